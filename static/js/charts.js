/**
 * Chart.js configuration for the selected sensor's two charts. Charts are
 * created once and then fed incrementally: rebuilding them on every poll would
 * flicker and waste CPU on a wall screen that runs for days.
 *
 * Data is given pre-parsed ({x, y} with x = epoch seconds, sorted), which lets
 * Chart.js skip parsing and sorting (`parsing: false`, `normalized: true`).
 * The zoom and annotation plugins register themselves when their UMD builds load.
 */
import { decimalsFor, explainZ, formatClock, formatNumber, formatPercent, scenarioName } from './format.js';

// The UMD build is loaded by a classic <script>: there is no bundler.
const { Chart } = window;

/** Tick steps in seconds that read well on a clock. */
const CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600];
const MIN_TICK_SPACING_PX = 110;

/** Fixed y-axis width, so the time axes of the two stacked charts line up. */
const Y_AXIS_WIDTH = 72;

/**
 * Per chart: its series (how each dataset turns an API point into a chart
 * point, and how it is styled), the colours in use, and what the annotations
 * are built from, so a theme switch can restyle everything in place.
 */
const stateOf = new WeakMap();

// Chart text follows the page's root font size, which app.css raises for wall screens.
Chart.defaults.font.size = 0.8 * parseFloat(getComputedStyle(document.documentElement).fontSize);

function lineStyle(color, extra = {}) {
  return {
    borderColor: color, backgroundColor: color, borderWidth: 2, fill: false,
    pointRadius: 0, pointHoverRadius: 3, pointStyle: 'line', ...extra,
  };
}

/** Dashed, so the mean tells from the value without its colour. */
function meanStyle(c) {
  return lineStyle(c.mean, { borderWidth: 1.5, borderDash: [6, 4] });
}

/** The upper edge fills down to the next dataset, the lower edge, forming the band. */
function bandStyle(c, fill) {
  return lineStyle(c.bandLine, { borderWidth: 1, backgroundColor: c.bandFill, fill, pointStyle: 'rect' });
}

/** Triangles, not only a colour, mark anomalies. */
function anomalyStyle(c) {
  return {
    borderColor: c.anomaly, backgroundColor: c.anomaly,
    showLine: false, pointRadius: 5, pointHoverRadius: 8, pointStyle: 'triangle',
  };
}

function ratioStyle(c) {
  return lineStyle(c.ratio, { backgroundColor: c.ratioFill, fill: 'origin' });
}

/** Ticks on whole clock units (…:00, :15, :30) instead of the linear scale's decimal steps. */
function clockTicks(scale) {
  const maxTicks = Math.max(2, Math.floor(scale.width / MIN_TICK_SPACING_PX));
  const span = scale.max - scale.min;
  const step = CLOCK_STEPS.find((s) => span / s <= maxTicks) ?? CLOCK_STEPS[CLOCK_STEPS.length - 1];
  const ticks = [];
  for (let value = Math.ceil(scale.min / step) * step; value <= scale.max; value += step) ticks.push({ value });
  scale.ticks = ticks;
}

function fixWidth(scale) {
  scale.width = Y_AXIS_WIDTH;
}

/**
 * Zoom and pan along time only. Dragging selects a span to zoom into; panning
 * needs Shift and the wheel needs Ctrl, so scrolling the page over a chart
 * still scrolls the page.
 */
function zoomOptions(c) {
  return {
    pan: { enabled: true, mode: 'x', modifierKey: 'shift' },
    zoom: {
      mode: 'x',
      wheel: { enabled: true, modifierKey: 'ctrl' },
      pinch: { enabled: true },
      drag: { enabled: true, threshold: 8, backgroundColor: c.bandFill, borderColor: c.value, borderWidth: 1 },
    },
  };
}

function tooltipOptions(series, state) {
  return {
    callbacks: {
      title: (items) => (items.length ? formatClock(items[0].parsed.x) : ''),
      label: (item) => series[item.datasetIndex].describe(item, state),
    },
    // The lower band edge is described together with the upper one.
    filter: (item) => Boolean(series[item.datasetIndex].describe),
  };
}

function baseOptions(series, state, yAxis, legend) {
  return {
    animation: false,
    parsing: false,
    normalized: true,
    spanGaps: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: {
      x: { type: 'linear', afterBuildTicks: clockTicks, ticks: { callback: formatClock, maxRotation: 0 } },
      y: { afterFit: fixWidth, ...yAxis },
    },
    plugins: {
      legend,
      tooltip: tooltipOptions(series, state),
      zoom: zoomOptions(state.colours),
      annotation: { annotations: {} },
    },
  };
}

/** Missing while the model is still learning: a null y leaves a gap. */
function bandEdge(point, sign) {
  const known = point.mean !== null && point.std !== null && point.threshold !== null;
  return { x: point.t, y: known ? point.mean + sign * point.threshold * point.std : null };
}

function withUnit(value, state) {
  const text = formatNumber(value, state.digits);
  return state.unit ? `${text} ${state.unit}` : text;
}

function createChart(canvas, series, colours, yAxis, legend) {
  const state = { series, colours, unit: '', digits: 2, scenarios: [], chance: null };
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: series.map(({ label, style }) => ({ label, data: [], ...style(colours) })) },
    options: baseOptions(series, state, yAxis, legend),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

/**
 * Value, model mean, mean ± threshold·std band and anomalies; first dataset
 * draws on top. Anomaly points keep the numbers that explain them.
 */
export function createValueChart(canvas, colours) {
  const series = [
    {
      id: 'anomaly', label: 'Anomaly', style: anomalyStyle,
      toXY: (p) => (p.anomaly ? { x: p.t, y: p.value, mean: p.mean, std: p.std, z: p.z, threshold: p.threshold } : null),
      describe: (item) => `Anomaly: ${explainZ({ value: item.raw.y, ...item.raw })}`,
    },
    {
      id: 'value', label: 'Value', style: (c) => lineStyle(c.value),
      toXY: (p) => ({ x: p.t, y: p.value }),
      describe: (item, state) => `Value: ${withUnit(item.parsed.y, state)}`,
    },
    {
      id: 'mean', label: 'Model mean', style: meanStyle,
      toXY: (p) => ({ x: p.t, y: p.mean }),
      describe: (item, state) => `Model mean: ${withUnit(item.parsed.y, state)}`,
    },
    {
      id: 'upper', label: 'Mean ± threshold·std', style: (c) => bandStyle(c, '+1'),
      toXY: (p) => bandEdge(p, 1),
      describe: (item, state) => {
        const lower = item.chart.data.datasets[item.datasetIndex + 1].data[item.dataIndex];
        return `Band: ${withUnit(lower.y, state)} … ${withUnit(item.parsed.y, state)}`;
      },
    },
    { id: 'lower', label: 'Lower band', style: (c) => bandStyle(c, false), toXY: (p) => bandEdge(p, -1) },
  ];
  const legend = { labels: { usePointStyle: true, boxHeight: 8, filter: (item) => item.text !== 'Lower band' } };
  return createChart(canvas, series, colours, { title: { display: false, text: '' } }, legend);
}

/** Accumulated anomaly ratio, shown in percent, with what chance alone would give. */
export function createRatioChart(canvas, colours) {
  const series = [{
    id: 'ratio', label: 'Anomaly ratio', style: ratioStyle,
    toXY: (p) => ({ x: p.t, y: p.anomaly_ratio * 100 }),
    describe: (item) => `Anomaly ratio: ${formatNumber(item.parsed.y, 2)} %`,
  }];
  const yAxis = { beginAtZero: true, suggestedMax: 1, ticks: { callback: (value) => `${value} %` } };
  return createChart(canvas, series, colours, yAxis, { display: false });
}

/**
 * Zooming or panning one chart shows the same span in the others, and tells
 * `onUserView` so that live data stops moving the view away from the user.
 * A wheel zoom reports at once; a drag only when it ends (a click is no zoom).
 */
export function linkTimeAxes(linked, onUserView) {
  const follow = ({ chart }) => {
    const { min, max } = chart.scales.x;
    for (const other of linked) {
      if (other === chart) continue;
      Object.assign(other.options.scales.x, { min, max });
      other.update('none');
    }
    onUserView();
  };
  for (const chart of linked) {
    const { zoom, pan } = chart.options.plugins.zoom;
    zoom.onZoomStart = ({ event }) => {
      if (event?.type === 'wheel') onUserView();
    };
    zoom.onZoomComplete = follow;
    pan.onPanStart = () => onUserView();
    pan.onPanComplete = follow;
  }
}

/** Appends API points (oldest first, all newer than what the chart holds). */
export function appendPoints(chart, points) {
  stateOf.get(chart).series.forEach(({ toXY }, index) => {
    const xy = points.map(toXY).filter(Boolean);
    if (xy.length) chart.data.datasets[index].data.push(...xy);
  });
}

/** Drops every point older than `cutoff` (epoch seconds). */
export function dropBefore(chart, cutoff) {
  for (const dataset of chart.data.datasets) {
    const keepFrom = dataset.data.findIndex((point) => point.x >= cutoff);
    dataset.data.splice(0, keepFrom === -1 ? dataset.data.length : keepFrom);
  }
}

/** Keeps the newest `size` points; sparse datasets (anomalies) are cut at the same time. */
export function trimToWindow(chart, size) {
  const longest = longestData(chart);
  if (longest.length > size) dropBefore(chart, longest[longest.length - size].x);
}

/**
 * The x values to drop so that a chart over `cap` points fits again: the older
 * half keeps one point per span/(cap/2) seconds, and every anomaly. A long
 * span keeps its shape in bounded memory; recent data keeps full detail.
 */
export function pointsToThin(chart, cap, span) {
  const dropped = new Set();
  const longest = longestData(chart);
  if (longest.length <= cap) return dropped;
  const anomalies = new Set(datasetOf(chart, 'anomaly')?.data.map((p) => p.x));
  const bucketSeconds = span / (cap / 2);
  const recentFrom = longest[longest.length - cap / 2].x;
  let bucket = null;
  for (const { x } of longest) {
    if (x >= recentFrom) break;
    const current = Math.floor(x / bucketSeconds);
    if (current === bucket && !anomalies.has(x)) dropped.add(x);
    bucket = current;
  }
  return dropped;
}

/** Drops the points at the x values `dropped` (from pointsToThin); anomaly marks stay. */
export function dropPoints(chart, dropped) {
  if (!dropped.size) return;
  const anomalies = datasetOf(chart, 'anomaly');
  for (const dataset of chart.data.datasets) {
    if (dataset !== anomalies) dataset.data = dataset.data.filter((point) => !dropped.has(point.x));
  }
}

export function resetChart(chart) {
  for (const dataset of chart.data.datasets) dataset.data = [];
}

/** Redraws with the x range pinned to the data, so both charts line up in time and follow live data. */
export function render(chart) {
  const data = longestData(chart);
  Object.assign(chart.options.scales.x, {
    min: data.length ? data[0].x : undefined,
    max: data.length ? data[data.length - 1].x : undefined,
  });
  buildAnnotations(chart);
  chart.update('none');
}

/** The value axis' unit, and the decimals that the sensor's noise deserves (from a typical std). */
export function setValueUnit(chart, unit, std) {
  const state = stateOf.get(chart);
  state.unit = unit || '';
  state.digits = decimalsFor(std);
  const { title } = chart.options.scales.y;
  title.text = state.unit;
  title.display = Boolean(state.unit);
}

/** Injected scenarios, shaded over their time span as the ground truth. */
export function setScenarios(chart, scenarios) {
  stateOf.get(chart).scenarios = scenarios;
}

/** The ratio that Gaussian noise alone gives at this threshold, as a dashed line. */
export function setChanceRatio(chart, ratio, threshold) {
  stateOf.get(chart).chance = { ratio, threshold };
  // Keep the line in view at low thresholds, where chance is large.
  chart.options.scales.y.suggestedMax = Math.max(1, ratio * 100 * 1.3);
}

/** Restyles in place after a theme switch. */
export function applyColours(chart, colours) {
  const state = stateOf.get(chart);
  state.colours = colours;
  state.series.forEach(({ style }, index) => Object.assign(chart.data.datasets[index], style(colours)));
  Object.assign(chart.options.plugins.zoom.zoom.drag, { backgroundColor: colours.bandFill, borderColor: colours.value });
  styleAxes(chart, colours);
  buildAnnotations(chart);
  chart.update('none');
}

function styleAxes(chart, colours) {
  for (const scale of Object.values(chart.options.scales)) {
    scale.ticks.color = colours.muted;
    scale.grid = { color: colours.grid };
    if (scale.title) scale.title.color = colours.text;
  }
  const { legend } = chart.options.plugins;
  if (legend.labels) legend.labels.color = colours.text;
}

/** Only scenarios that overlap the data get a box, so their number stays bounded too. */
function buildAnnotations(chart) {
  const { scenarios, chance, colours, series } = stateOf.get(chart);
  const first = longestData(chart)[0]?.x ?? Infinity;
  const labelled = series[0].id === 'anomaly';
  const annotations = {};
  for (const s of scenarios) {
    if (s.ends_at < first) continue;
    annotations[`scenario-${s.id}`] = {
      type: 'box', xMin: s.starts_at, xMax: s.ends_at, drawTime: 'beforeDatasetsDraw',
      backgroundColor: colours.scenario, borderWidth: 0,
      label: {
        display: labelled, content: `injected: ${scenarioName(s.kind)}`,
        position: { x: 'start', y: 'start' }, color: colours.text, font: { weight: 'bold' }, padding: 3,
      },
    };
  }
  if (chance) {
    annotations.chance = {
      type: 'line', yMin: chance.ratio * 100, yMax: chance.ratio * 100,
      borderColor: colours.text, borderWidth: 1.5, borderDash: [6, 4],
      label: {
        display: true, position: 'start', yAdjust: -11, backgroundColor: colours.background, color: colours.text,
        padding: 2, content: `chance at z = ${formatNumber(chance.threshold, 1)}: ${formatPercent(chance.ratio)}`,
      },
    };
  }
  chart.options.plugins.annotation.annotations = annotations;
}

/** Number of points a series currently shows. */
export function seriesSize(chart, id) {
  return datasetOf(chart, id).data.length;
}

function datasetOf(chart, id) {
  const index = stateOf.get(chart).series.findIndex((series) => series.id === id);
  return chart.data.datasets[index];
}

function longestData(chart) {
  return chart.data.datasets.reduce((a, b) => (b.data.length > a.data.length ? b : a)).data;
}
