/**
 * Chart.js configuration for the two charts. Charts are created once and then
 * fed incrementally: rebuilding them on every poll would flicker and waste CPU
 * on a wall screen that runs for days.
 *
 * Data is given pre-parsed ({x, y} with x = epoch seconds, sorted), which lets
 * Chart.js skip parsing and sorting (`parsing: false`, `normalized: true`).
 */

// The UMD build is loaded by a classic <script>: there is no bundler.
const { Chart } = window;

const COLORS = {
  value: '#0d6efd',
  mean: '#495057',
  bandLine: 'rgba(108, 117, 125, 0.45)',
  bandFill: 'rgba(13, 110, 253, 0.08)',
  anomaly: '#dc3545',
  ratio: '#fd7e14',
  ratioFill: 'rgba(253, 126, 20, 0.15)',
  grid: 'rgba(0, 0, 0, 0.06)',
};

/** Tick steps in seconds that read well on a clock. */
const CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600];
const MIN_TICK_SPACING_PX = 110;

/** Fixed y-axis width, so the time axes of the two stacked charts line up. */
const Y_AXIS_WIDTH = 72;

/** Per chart: how each dataset turns an API point into {x, y} (or null to leave it out). */
const seriesOf = new WeakMap();

// Chart text follows the page's root font size, which app.css raises for wall screens.
Chart.defaults.font.size = 0.8 * parseFloat(getComputedStyle(document.documentElement).fontSize);

const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** Epoch seconds as HH:MM:SS in the viewer's local time. */
export function formatClock(seconds) {
  return clock.format(new Date(seconds * 1000));
}

function lineStyle(color, extra = {}) {
  return {
    borderColor: color, backgroundColor: color, borderWidth: 2, fill: false,
    pointRadius: 0, pointHoverRadius: 3, pointStyle: 'line', ...extra,
  };
}

function meanStyle() {
  return lineStyle(COLORS.mean, { borderWidth: 1.5, borderDash: [6, 4] });
}

/** The upper edge fills down to the next dataset, the lower edge, forming the band. */
function bandStyle(fill) {
  return lineStyle(COLORS.bandLine, { borderWidth: 1, backgroundColor: COLORS.bandFill, fill, pointStyle: 'rect' });
}

function anomalyStyle() {
  return {
    borderColor: COLORS.anomaly, backgroundColor: COLORS.anomaly,
    showLine: false, pointRadius: 4, pointHoverRadius: 6, pointStyle: 'circle',
  };
}

function ratioStyle() {
  return lineStyle(COLORS.ratio, { backgroundColor: COLORS.ratioFill, fill: 'origin' });
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

function timeAxis() {
  return {
    type: 'linear',
    afterBuildTicks: clockTicks,
    ticks: { callback: (value) => formatClock(value), maxRotation: 0 },
    grid: { color: COLORS.grid },
  };
}

function fixWidth(scale) {
  scale.width = Y_AXIS_WIDTH;
}

function baseOptions(yAxis, legend) {
  return {
    animation: false,
    parsing: false,
    normalized: true,
    spanGaps: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: { x: timeAxis(), y: { grid: { color: COLORS.grid }, afterFit: fixWidth, ...yAxis } },
    plugins: {
      legend,
      tooltip: { callbacks: { title: (items) => (items.length ? formatClock(items[0].parsed.x) : '') } },
    },
  };
}

/** Missing while the model is still learning: a null y leaves a gap. */
function bandEdge(point, sign) {
  const known = point.mean !== null && point.std !== null && point.threshold !== null;
  return { x: point.t, y: known ? point.mean + sign * point.threshold * point.std : null };
}

function createChart(canvas, series, yAxis, legend) {
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: series.map(({ label, style }) => ({ label, data: [], ...style })) },
    options: baseOptions(yAxis, legend),
  });
  seriesOf.set(chart, series);
  return chart;
}

/** Value, model mean, mean ± threshold·std band and anomalies; first dataset draws on top. */
export function createValueChart(canvas) {
  const series = [
    { id: 'anomaly', label: 'Anomaly', style: anomalyStyle(), toXY: (p) => (p.anomaly ? { x: p.t, y: p.value } : null) },
    { id: 'value', label: 'Value', style: lineStyle(COLORS.value), toXY: (p) => ({ x: p.t, y: p.value }) },
    { id: 'mean', label: 'Model mean', style: meanStyle(), toXY: (p) => ({ x: p.t, y: p.mean }) },
    { id: 'upper', label: 'Mean ± threshold·std', style: bandStyle('+1'), toXY: (p) => bandEdge(p, 1) },
    { id: 'lower', label: 'Lower band', style: bandStyle(false), toXY: (p) => bandEdge(p, -1) },
  ];
  const legend = { labels: { usePointStyle: true, boxHeight: 8, filter: (item) => item.text !== 'Lower band' } };
  return createChart(canvas, series, { title: { display: false, text: '' } }, legend);
}

/** Accumulated anomaly ratio, shown in percent. */
export function createRatioChart(canvas) {
  const series = [
    { id: 'ratio', label: 'Anomaly ratio', style: ratioStyle(), toXY: (p) => ({ x: p.t, y: p.anomaly_ratio * 100 }) },
  ];
  const yAxis = { beginAtZero: true, suggestedMax: 5, ticks: { callback: (value) => `${value} %` } };
  return createChart(canvas, series, yAxis, { display: false });
}

/** Appends API points (oldest first, all newer than what the chart holds). */
export function appendPoints(chart, points) {
  seriesOf.get(chart).forEach(({ toXY }, index) => {
    const xy = points.map(toXY).filter(Boolean);
    if (xy.length) chart.data.datasets[index].data.push(...xy);
  });
}

/** Keeps the newest `size` points; sparse datasets (anomalies) are cut at the same time. */
export function trimToWindow(chart, size) {
  const longest = longestData(chart);
  if (longest.length <= size) return;
  const cutoff = longest[longest.length - size].x;
  for (const dataset of chart.data.datasets) {
    const keepFrom = dataset.data.findIndex((point) => point.x >= cutoff);
    dataset.data.splice(0, keepFrom === -1 ? dataset.data.length : keepFrom);
  }
}

export function resetChart(chart) {
  for (const dataset of chart.data.datasets) dataset.data = [];
}

/** Redraws; the x range is pinned to the data so both charts line up in time. */
export function render(chart) {
  const data = longestData(chart);
  const x = chart.options.scales.x;
  x.min = data.length ? data[0].x : undefined;
  x.max = data.length ? data[data.length - 1].x : undefined;
  chart.update('none');
}

export function setValueUnit(chart, unit) {
  const { title } = chart.options.scales.y;
  title.text = unit || '';
  title.display = Boolean(unit);
}

/** Number of points a series currently shows. */
export function seriesSize(chart, id) {
  const index = seriesOf.get(chart).findIndex((series) => series.id === id);
  return chart.data.datasets[index].data.length;
}

function longestData(chart) {
  return chart.data.datasets.reduce((a, b) => (b.data.length > a.data.length ? b : a)).data;
}
