/**
 * What every chart of the app starts from: the dashboard's (charts/), the
 * Evaluate page's (evaluate/chart.js) and the Backtest panel's
 * (backtest/chart.js). Chart.js from its UMD build, the options that every
 * chart shares (no animation, sized by its box, a fixed-width y axis, zoom and
 * pan along x only), line and mark styles, and axis colours that follow the
 * theme. Charts are created once and then mutated in place: rebuilding them on
 * every poll would flicker and waste CPU on a wall screen that runs for days.
 */

// The UMD build is loaded by a classic <script>: there is no bundler.
export const { Chart } = window;

/**
 * Per chart: what it draws (its series, how each is styled), the colours in
 * use and whatever its annotations are built from, so a theme switch can
 * restyle everything in place.
 */
export const stateOf = new WeakMap();

/**
 * Options of every chart. The tooltip and hover pick the nearest point along
 * x unless `interaction` says otherwise; `plugins` gets an empty annotation
 * list (the annotation plugin registers itself when its UMD build loads); the
 * rest (`parsing`, …) is passed through. Every chart gets objects of its own.
 */
export function chartOptions({
  scales, plugins = {}, interaction = { mode: 'nearest', axis: 'x', intersect: false }, ...rest
}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction,
    scales,
    ...rest,
    plugins: { ...plugins, annotation: { annotations: {} } },
  };
}

/**
 * Options of a chart of pre-parsed, sorted {x, y} points (Chart.js skips
 * parsing and sorting) on a linear x axis, its y axis `yWidth` pixels wide so
 * that the x axes of stacked charts line up.
 */
export function seriesOptions({ x, y, yWidth, legend, tooltip, zoom, plugins = {} }) {
  return chartOptions({
    parsing: false,
    normalized: true,
    spanGaps: false,
    scales: {
      x: { type: 'linear', ...x },
      y: { afterFit: (scale) => { scale.width = yWidth; }, ...y },
    },
    plugins: { legend, ...plugins, tooltip, zoom },
  });
}

/**
 * Zoom and pan along x only. Dragging selects a span to zoom into (`drag`:
 * its backgroundColor and borderColor); panning needs Shift and the wheel
 * needs Ctrl, so scrolling the page over a chart still scrolls the page.
 */
export function zoomAlongX(drag) {
  return {
    pan: { enabled: true, mode: 'x', modifierKey: 'shift' },
    zoom: {
      mode: 'x',
      wheel: { enabled: true, modifierKey: 'ctrl' },
      pinch: { enabled: true },
      drag: { enabled: true, threshold: 8, borderWidth: 1, ...drag },
    },
  };
}

/** Shows `chart`'s x range in every other chart of `linked` (after a zoom or pan of `chart`). */
export function showSameX(linked, chart) {
  const { min, max } = chart.scales.x;
  for (const other of linked) {
    if (other === chart) continue;
    Object.assign(other.options.scales.x, { min, max });
    other.update('none');
  }
}

export function lineStyle(colour, extra = {}) {
  return {
    borderColor: colour, backgroundColor: colour, borderWidth: 2, fill: false,
    pointRadius: 0, pointHoverRadius: 3, pointStyle: 'line', ...extra,
  };
}

/** A mark: a point without a line, a shape of its own, drawn above the lines (a lower `order` draws later). */
export function markStyle(colour, shape, extra = {}) {
  return {
    borderColor: colour, backgroundColor: colour, order: -1,
    showLine: false, pointRadius: 5, pointHoverRadius: 8, pointStyle: shape, ...extra,
  };
}

/** Axis ticks, grid (unless hidden), axis titles and legend text in the theme's colours. */
export function styleAxes(chart, colours) {
  for (const scale of Object.values(chart.options.scales)) {
    scale.ticks.color = colours.muted;
    if (scale.grid?.display !== false) scale.grid = { color: colours.grid };
    if (scale.title) scale.title.color = colours.text;
  }
  const { legend } = chart.options.plugins;
  if (legend.labels) legend.labels.color = colours.text;
}

/**
 * Restyles in place after a theme switch: a chart of charts/ whose state
 * (stateOf) has its series, each with a `style(colours)`, and `annotate(chart)`.
 */
export function applyColours(chart, colours) {
  const state = stateOf.get(chart);
  state.colours = colours;
  state.series.forEach(({ style }, index) => Object.assign(chart.data.datasets[index], style(colours)));
  const drag = chart.options.plugins.zoom?.zoom?.drag;
  if (drag) Object.assign(drag, { backgroundColor: colours.bandFill, borderColor: colours.value });
  styleAxes(chart, colours);
  state.annotate(chart);
  chart.update('none');
}
