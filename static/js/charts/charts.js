/**
 * Chart.js configuration: the selected sensor's value, ratio and LSTM charts,
 * the line model's score chart, and the small charts of the LSTM panel (loss
 * curve, error histogram). Charts are created once and then fed incrementally:
 * rebuilding them on every poll would flicker and waste CPU on a wall screen
 * that runs for days.
 *
 * Data is given pre-parsed ({x, y} with x = epoch seconds, sorted), which lets
 * Chart.js skip parsing and sorting (`parsing: false`, `normalized: true`).
 * The zoom and annotation plugins register themselves when their UMD builds load.
 */
import {
  decimalsFor, explainLstm, explainZ, explainZAlarm, formatClock, formatError, formatNumber, formatPercent,
  formatPercentile, scenarioName,
} from '../lib/format.js';
import { describeSplit } from '../dashboard/detector_votes.js';

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

/**
 * Marks: a shape per detector, not only a colour. ▲ the z-score, ◆ the LSTM,
 * ■ both at once; a ▼ above the reading, the z-score's alarm. Marks draw above
 * the lines (a lower `order` draws later) and come first in the legend.
 */
function markStyle(colour, shape, extra = {}) {
  return {
    borderColor: colour, backgroundColor: colour, order: -1,
    showLine: false, pointRadius: 5, pointHoverRadius: 8, pointStyle: shape, ...extra,
  };
}

function anomalyStyle(c) {
  return markStyle(c.anomaly, 'triangle');
}

function lstmFlagStyle(c) {
  return markStyle(c.lstm, 'rectRot', { pointRadius: 6, pointHoverRadius: 9 });
}

/** Vermillion like a z-score flag, squared and outlined: both detectors agree. */
function bothStyle(c) {
  return markStyle(c.anomaly, 'rect', { borderColor: c.text, borderWidth: 1.5, pointRadius: 6, pointHoverRadius: 9 });
}

/** The z-score alarm's pin: ▼ this wide and tall (px), its tip this far above the reading. */
const PIN = { width: 16, height: 13, gap: 6 };

/**
 * A ▼ drawn above the reading, pointing down at it: the z-score's excursion
 * alarm, bigger than the ▲ ◆ ■ flags and outlined so it stands out from them.
 * Chart.js centres an image point style on the reading, so the pin sits in the
 * top half of a canvas twice its reach; drawn once per theme, every frame only
 * copies it.
 */
function alarmPin(c) {
  const reach = PIN.height + PIN.gap + 1;
  const canvas = document.createElement('canvas');
  canvas.width = PIN.width + 2;
  canvas.height = 2 * reach;
  const ctx = canvas.getContext('2d');
  ctx.beginPath();
  ctx.moveTo(1, 1);
  ctx.lineTo(1 + PIN.width, 1);
  ctx.lineTo(1 + PIN.width / 2, 1 + PIN.height);
  ctx.closePath();
  ctx.fillStyle = c.anomaly;
  ctx.strokeStyle = c.text;
  ctx.lineWidth = 1.5;
  ctx.lineJoin = 'round';
  ctx.fill();
  ctx.stroke();
  return canvas;
}

/** The pin may reach above the plot (a spike is the highest reading); only the top is left unclipped. */
function zAlarmStyle(c) {
  return markStyle(c.anomaly, alarmPin(c), {
    borderColor: c.text, borderWidth: 1.5, pointRadius: 6, pointHoverRadius: 6,
    clip: { left: 0, top: false, right: 0, bottom: 0 },
    // The legend draws a plain ▼ of the same colours (an image would be drawn at its full size there).
    legendMark: { pointStyle: 'triangle', rotation: 180 },
  });
}

/**
 * A ring around a reading on which the detectors split: a shape of its own,
 * drawn around whichever mark (or none) the reading carries.
 */
function disagreeStyle(c) {
  return markStyle(c.text, 'circle', {
    backgroundColor: 'transparent', borderWidth: 2, pointRadius: 9, pointHoverRadius: 11,
  });
}

/** A forecast's mean: dashed like the model mean, in the forecast's own hue. */
function forecastMeanStyle(c) {
  return lineStyle(c.forecast, { borderWidth: 2, borderDash: [6, 4] });
}

/** A forecast's band: the high edge fills down to the low one (the next dataset). */
function forecastBandStyle(c, fill) {
  return lineStyle(c.forecast, { borderWidth: 1, backgroundColor: c.forecastFill, fill, pointStyle: 'rect' });
}

/** Dashed and stepped: a threshold holds until the rule (percentile, ratio) changes. */
function thresholdStyle(c) {
  return lineStyle(c.text, { borderWidth: 1.5, borderDash: [6, 4], stepped: true });
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

function baseOptions(series, state, yAxis, legend, zoomable) {
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
      zoom: zoomable ? zoomOptions(state.colours) : {},
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

function createChart(canvas, series, colours, yAxis, legend, zoomable = true) {
  const state = {
    series, colours, unit: '', digits: 2, scenarios: [], chance: null, rule: null, agreement: null, moment: null,
    selected: null, horizon: null, forecastKey: '',
  };
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: series.map(({ label, style }) => ({ label, data: [], ...style(colours) })) },
    options: baseOptions(series, state, yAxis, legend, zoomable),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

/** A reading's z-score flag; points from before the LSTM carry only the verdict. */
function zFlag(p) {
  return Boolean(p.zscore_anomaly ?? p.anomaly);
}

/** A mark keeps the numbers that explain it, and whether it is the verdict that counts. */
function mark(p, y, state) {
  return {
    x: p.t, y, verdict: Boolean(p.anomaly), value: p.value, mean: p.mean, std: p.std, z: p.z,
    threshold: p.threshold, score: p.lstm_score, lstmThreshold: p.lstm_threshold, rule: state.rule,
  };
}

function lstmWhy(raw) {
  return `LSTM: ${explainLstm({ score: raw.score, threshold: raw.lstmThreshold, ...raw.rule })}`;
}

/**
 * Value, model mean, mean ± threshold·std band and the detectors' flags. With
 * the LSTM on, a flag says which detector raised it: the z-score only, the
 * LSTM only, or both; the z-score's excursion alarms get a pin of their own.
 * Datasets 0 and 1 stay the z-score flags and the value.
 */
export function createValueChart(canvas, colours) {
  const series = [
    {
      id: 'anomaly', label: 'Anomaly', style: anomalyStyle, mark: true,
      toXY: (p, state) => (zFlag(p) && !p.lstm_anomaly ? mark(p, p.value, state) : null),
      describe: (item) => `${item.dataset.label}: ${explainZ({ ...item.raw, value: item.raw.y })}`,
    },
    {
      id: 'value', label: 'Value', style: (c) => lineStyle(c.value),
      // The API point rides along: a click on the reading shows every detector's verdict on it.
      toXY: (p) => ({ x: p.t, y: p.value, src: p }),
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
    {
      id: 'lstmOnly', label: 'LSTM only', style: lstmFlagStyle, mark: true,
      toXY: (p, state) => (p.lstm_anomaly && !zFlag(p) ? mark(p, p.value, state) : null),
      describe: (item) => lstmWhy(item.raw),
    },
    {
      id: 'both', label: 'both', style: bothStyle, mark: true,
      toXY: (p, state) => (p.lstm_anomaly && zFlag(p) ? mark(p, p.value, state) : null),
      describe: (item) => [`z-score: ${explainZ({ ...item.raw, value: item.raw.y })}`, lstmWhy(item.raw)],
    },
    {
      id: 'disagree', label: 'detectors disagree', style: disagreeStyle, mark: true,
      // A verdict from a chosen detector (verdict_source) has no ▲ ◆ ■ of its own: the ring counts it.
      toXY: (p) => (p.disagree
        ? { x: p.t, y: p.value, src: p, verdict: Boolean(p.anomaly) && !zFlag(p) && !p.lstm_anomaly }
        : null),
      describe: (item) => `Detectors disagree: ${describeSplit(item.raw.src)}`,
    },
    {
      // The z-score's excursion alarm: at most one per run of out-of-band readings (zscore_alarm.py).
      id: 'zAlarm', label: 'z-score alarm', style: zAlarmStyle, mark: true,
      toXY: (p) => (p.z_alarm ? { x: p.t, y: p.value, src: p } : null),
      describe: (item) => `z-score ${explainZAlarm(item.raw.src)}`,
    },
    // Ahead of the live line: filled by setForecast, never from readings.
    {
      id: 'forecastMean', label: 'Forecast', style: forecastMeanStyle, ahead: true, toXY: () => null,
      describe: (item, state) => `${item.dataset.label}: ${withUnit(item.parsed.y, state)}`,
    },
    {
      id: 'forecastHigh', label: 'Forecast band', style: (c) => forecastBandStyle(c, '+1'), ahead: true, toXY: () => null,
      describe: (item, state) => {
        const low = item.chart.data.datasets[item.datasetIndex + 1].data[item.dataIndex];
        return `Forecast band: ${withUnit(low.y, state)} … ${withUnit(item.parsed.y, state)}`;
      },
    },
    { id: 'forecastLow', label: 'Forecast low', style: (c) => forecastBandStyle(c, false), ahead: true, toXY: () => null },
  ];
  const legend = {
    labels: {
      usePointStyle: true, boxHeight: 8,
      generateLabels: legendItems,
      filter: (item, data) => item.text !== 'Lower band' && !data.datasets[item.datasetIndex].notInLegend,
    },
  };
  const chart = createChart(canvas, series, colours, { title: { display: false, text: '' } }, legend);
  setAgreement(chart, false);
  for (const id of ['disagree', 'forecastMean', 'forecastHigh', 'forecastLow']) datasetOf(chart, id).notInLegend = true;
  return chart;
}

/** Chart.js's legend items, with a dataset's own `legendMark` where its point style is an image. */
function legendItems(chart) {
  return Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
    const mark = chart.data.datasets[item.datasetIndex]?.legendMark;
    return mark ? { ...item, ...mark } : item;
  });
}

/**
 * The "detectors disagree" entry of the legend: shown while more than one
 * detector judges the sensor, or while a disagreement is in view. True when
 * that changed (the caller redraws).
 */
export function setDisagreement(chart, on) {
  const dataset = datasetOf(chart, 'disagree');
  const shown = on || dataset.data.length > 0;
  if (dataset.notInLegend === !shown) return false;
  dataset.notInLegend = !shown;
  return true;
}

/**
 * A forecast ({detector, points: [{t, mean, low, high}]}; null or no points:
 * none) drawn ahead of the live line: the mean dashed, low–high as a band, the
 * legend naming the detector. `linked` charts keep the same time axis. True
 * when what is drawn changed.
 */
export function setForecast(chart, forecast, linked = []) {
  const points = forecast?.points ?? [];
  const key = points.length ? `${forecast.detector}@${forecast.t}` : '';
  const state = stateOf.get(chart);
  if (key === state.forecastKey) return false;
  state.forecastKey = key;
  const series = { forecastMean: 'mean', forecastHigh: 'high', forecastLow: 'low' };
  for (const [id, field] of Object.entries(series)) {
    const dataset = datasetOf(chart, id);
    dataset.data = points.map((p) => ({ x: p.t, y: p[field] }));
    dataset.notInLegend = id === 'forecastLow' || !points.length;
  }
  datasetOf(chart, 'forecastMean').label = points.length ? `Forecast (${forecast.detector})` : 'Forecast';
  datasetOf(chart, 'forecastHigh').label = points.length ? `Forecast band (${forecast.detector}, low–high)` : 'Forecast band';
  const horizon = points.length ? points[points.length - 1].t : null;
  for (const each of [chart, ...linked]) stateOf.get(each).horizon = horizon;
  return true;
}

/**
 * Calls `onPick(point, at)` with the API point of the reading nearest a click
 * (within a few pixels) and where the click was ({x, y} on the canvas).
 */
export function onReadingClick(chart, onPick) {
  chart.options.onClick = (event) => {
    const { x: scale } = chart.scales;
    const data = datasetOf(chart, 'value').data;
    if (!data.length) return;
    const at = scale.getValueForPixel(event.x);
    const index = nearestIndex(data, at);
    if (Math.abs(scale.getPixelForValue(data[index].x) - event.x) <= 12) onPick(data[index].src, { x: event.x, y: event.y });
  };
}

/**
 * The API point `step` readings from the one at `t` (t null: from beyond the
 * newest, so step −1 is the newest); the newest or oldest at the ends, null
 * when the chart is empty.
 */
export function readingBeside(chart, t, step) {
  const data = datasetOf(chart, 'value').data;
  if (!data.length) return null;
  const from = t === null ? data.length : nearestIndex(data, t);
  return data[Math.max(0, Math.min(data.length - 1, from + step))].src;
}

/** The reading at `t` (epoch seconds; null: none) marked with a dotted line, e.g. the one the verdict table explains. */
export function setSelected(chart, t) {
  stateOf.get(chart).selected = t;
}

function nearestIndex(data, x) {
  let lo = 0;
  let hi = data.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (data[mid].x < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && Math.abs(data[lo - 1].x - x) <= Math.abs(data[lo].x - x) ? lo - 1 : lo;
}

/**
 * With the LSTM on, the value chart tells the detectors' flags apart (▲ z-score
 * only, ◆ LSTM only, ■ both) and its legend says so; off, ▲ is simply "Anomaly".
 * True when that changed (the caller redraws).
 */
export function setAgreement(chart, on) {
  const state = stateOf.get(chart);
  if (state.agreement === on) return false;
  state.agreement = on;
  datasetOf(chart, 'anomaly').label = on ? 'z-score only' : 'Anomaly';
  for (const id of ['lstmOnly', 'both']) datasetOf(chart, id).notInLegend = !on;
  return true;
}

/** The LSTM's threshold rule in force ({percentile, ratio}): new flags carry it, to explain themselves. */
export function setLstmRule(chart, rule) {
  stateOf.get(chart).rule = rule;
}

/** Reconstruction error against its threshold, the LSTM's flags marked. */
function shapeSeries(toError, toThreshold, isFlag) {
  // Smaller than in the value chart: here a flag only repeats that the error is above the threshold.
  const flagStyle = (c) => ({ ...lstmFlagStyle(c), pointRadius: 4, pointHoverRadius: 7 });
  return [
    {
      id: 'flag', label: 'LSTM flag', style: flagStyle, mark: true,
      toXY: (p, state) => (isFlag(p)
        ? { x: p.t, y: toError(p), score: toError(p), lstmThreshold: toThreshold(p), rule: state.rule, verdict: true }
        : null),
      describe: (item) => lstmWhy(item.raw),
    },
    {
      id: 'score', label: 'Reconstruction error', style: (c) => lineStyle(c.value),
      toXY: (p) => ({ x: p.t, y: toError(p) }),
      describe: (item) => `Error: ${formatError(item.parsed.y)}`,
    },
    {
      id: 'threshold', label: 'Threshold', style: thresholdStyle,
      toXY: (p) => ({ x: p.t, y: toThreshold(p) }),
      describe: (item) => `Threshold: ${formatError(item.parsed.y)}`,
    },
  ];
}

const SHAPE_LEGEND = { labels: { usePointStyle: true, boxHeight: 8 } };

/** A log axis keeps 1, 2 and 5 of each decade: nine grid lines a decade would crowd a short chart. */
function oneTwoFive(scale) {
  const kept = scale.ticks.filter(({ value }) => {
    const mantissa = value / 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5].some((k) => Math.abs(mantissa - k) < 1e-6);
  });
  if (kept.length >= 2) scale.ticks = kept;
}

/**
 * Logarithmic: a spike's error is tens of times the normal one, and on a linear
 * axis it would flatten the normal errors and the threshold into one line.
 */
function errorAxis() {
  return {
    type: 'logarithmic', afterBuildTicks: oneTwoFive, title: { display: true, text: 'error (log)' },
    ticks: { callback: (value) => String(Number(value.toPrecision(2))) },
  };
}

/** The selected sensor's LSTM score over the same time axis as its value chart (zoom and pan linked). */
export function createLstmChart(canvas, colours) {
  const series = shapeSeries((p) => p.lstm_score ?? null, (p) => p.lstm_threshold ?? null, (p) => Boolean(p.lstm_anomaly));
  return createChart(canvas, series, colours, errorAxis(), SHAPE_LEGEND);
}

/** The line model's score (one multivariate window over every sensor); its own time axis. */
export function createLineScoreChart(canvas, colours) {
  const series = shapeSeries((p) => p.error, (p) => p.threshold, (p) => Boolean(p.anomaly));
  return createChart(canvas, series, colours, errorAxis(), SHAPE_LEGEND, false);
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
  const state = stateOf.get(chart);
  state.series.forEach(({ toXY }, index) => {
    const xy = points.map((p) => toXY(p, state)).filter(Boolean);
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
  const marked = new Set(markDatasets(chart).flatMap((d) => d.data.map((p) => p.x)));
  const bucketSeconds = span / (cap / 2);
  const recentFrom = longest[longest.length - cap / 2].x;
  let bucket = null;
  for (const { x } of longest) {
    if (x >= recentFrom) break;
    const current = Math.floor(x / bucketSeconds);
    if (current === bucket && !marked.has(x)) dropped.add(x);
    bucket = current;
  }
  return dropped;
}

/** Drops the points at the x values `dropped` (from pointsToThin); anomaly marks stay. */
export function dropPoints(chart, dropped) {
  if (!dropped.size) return;
  const marks = markDatasets(chart);
  for (const dataset of chart.data.datasets) {
    if (!marks.includes(dataset)) dataset.data = dataset.data.filter((point) => !dropped.has(point.x));
  }
}

export function resetChart(chart) {
  for (const dataset of chart.data.datasets) dataset.data = [];
  // An emptied forecast is drawn again by the next setForecast, even if it is the same one.
  Object.assign(stateOf.get(chart), { forecastKey: '', horizon: null });
}

/** Redraws with the x range pinned to the data, so both charts line up in time and follow live data. */
export function render(chart) {
  const data = longestData(chart);
  const { horizon } = stateOf.get(chart);
  Object.assign(chart.options.scales.x, {
    min: data.length ? data[0].x : undefined,
    // A forecast reaches ahead of the newest reading: the axis makes room for it.
    max: data.length ? Math.max(data[data.length - 1].x, horizon ?? -Infinity) : undefined,
  });
  buildAnnotations(chart);
  chart.update('none');
}

/** Redraws what the annotations show (scenarios, chance, a moment) and keeps the x range: a paused view stays put. */
export function redraw(chart) {
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

/** A past moment to mark with a vertical line (epoch seconds; null: none), e.g. the one an alert links to. */
export function setMoment(chart, at) {
  stateOf.get(chart).moment = at;
}

/** Restyles in place after a theme switch. */
export function applyColours(chart, colours) {
  const state = stateOf.get(chart);
  state.colours = colours;
  state.series.forEach(({ style }, index) => Object.assign(chart.data.datasets[index], style(colours)));
  const drag = chart.options.plugins.zoom?.zoom?.drag;
  if (drag) Object.assign(drag, { backgroundColor: colours.bandFill, borderColor: colours.value });
  styleAxes(chart, colours);
  (state.annotate ?? buildAnnotations)(chart);
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
  const { scenarios, chance, moment, selected, colours, series } = stateOf.get(chart);
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
  if (moment !== null) annotations.moment = momentLine(moment, colours, labelled);
  if (selected !== null && selected !== undefined && selected >= first) annotations.selected = selectedLine(selected, colours);
  chart.options.plugins.annotation.annotations = annotations;
}

/** Dotted and thin: the reading whose verdicts the table shows, without hiding the data. */
function selectedLine(at, colours) {
  return {
    type: 'line', xMin: at, xMax: at, borderColor: colours.text, borderWidth: 1.5, borderDash: [2, 3],
    drawTime: 'beforeDatasetsDraw',
  };
}

/** Solid and vermillion, above the data: the moment stands out from the dashed rules and the shading. */
function momentLine(at, colours, labelled) {
  return {
    type: 'line', xMin: at, xMax: at, borderColor: colours.anomaly, borderWidth: 2, drawTime: 'afterDatasetsDraw',
    label: {
      display: labelled, content: `alert · ${formatClock(at)}`, position: 'start',
      backgroundColor: colours.background, color: colours.text, padding: 2,
    },
  };
}

/** Number of points a series currently shows. */
export function seriesSize(chart, id) {
  return datasetOf(chart, id).data.length;
}

/** Points of a series that have a value (a null y is a gap, e.g. no LSTM score yet). */
export function knownSize(chart, id) {
  return datasetOf(chart, id).data.filter((p) => p.y !== null).length;
}

/** Readings whose verdict is an anomaly, whichever detector's flag made them one. */
export function verdictCount(chart) {
  return markDatasets(chart).reduce((sum, d) => sum + d.data.filter((p) => p.verdict).length, 0);
}

function markDatasets(chart) {
  const { series } = stateOf.get(chart);
  return chart.data.datasets.filter((_, index) => series[index].mark);
}

// --- the small charts of the LSTM panel: a model's loss curve and its validation errors.

function smallOptions(x, y, tooltipLabel) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: { x, y },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { title: () => '', label: tooltipLabel } },
      annotation: { annotations: {} },
    },
  };
}

/** Training loss per epoch: a small line chart. */
export function createLossChart(canvas, colours) {
  const series = [{ id: 'loss', label: 'Loss', style: (c) => lineStyle(c.value, { pointRadius: 2 }) }];
  const state = { series, colours, annotate: () => {} };
  const x = {
    type: 'linear', title: { display: true, text: 'epoch' },
    ticks: { precision: 0, maxTicksLimit: 8 },
  };
  const y = { title: { display: true, text: 'loss' }, ticks: { maxTicksLimit: 5, callback: (v) => formatError(v) } };
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [{ label: 'Loss', data: [], ...series[0].style(colours) }] },
    options: smallOptions(x, y, (item) => `epoch ${item.parsed.x}: loss ${formatNumber(item.parsed.y, 4)}`),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

/** Shows a loss curve (one loss per epoch). */
export function setLossCurve(chart, curve) {
  chart.data.datasets[0].data = (curve ?? []).map((y, i) => ({ x: i + 1, y }));
  chart.options.scales.x.min = 1;
  chart.options.scales.x.max = Math.max(2, curve?.length ?? 0);
  chart.update('none');
}

/** The held-out reconstruction errors as a histogram, the model's threshold marked. */
export function createHistogramChart(canvas, colours) {
  const series = [{ id: 'errors', label: 'Validation windows', style: histogramStyle }];
  const state = { series, colours, threshold: null, percentile: null };
  state.annotate = (chart) => annotateThreshold(chart, stateOf.get(chart));
  const x = {
    type: 'linear', offset: false, grid: { offset: false },
    title: { display: true, text: 'reconstruction error' },
    // min and max hug the data: ticks on round values only.
    ticks: { maxTicksLimit: 6, includeBounds: false, callback: (v) => formatError(v) },
  };
  const y = { beginAtZero: true, title: { display: true, text: 'windows' }, ticks: { precision: 0, maxTicksLimit: 5 } };
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { datasets: [{ label: series[0].label, data: [], ...histogramStyle(colours) }] },
    options: smallOptions(x, y, (item) => {
      const { from, to } = item.raw;
      return `${item.parsed.y} windows with error ${formatError(from)}–${formatError(to)}`;
    }),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

function histogramStyle(c) {
  return {
    backgroundColor: c.bandFillStrong, borderColor: c.value, borderWidth: 1,
    barPercentage: 1, categoryPercentage: 1, grouped: false,
  };
}

/** Shows `{counts, edges}` with a dashed line at `threshold`, labelled with its percentile. */
export function setHistogram(chart, histogram, threshold, percentile) {
  const state = stateOf.get(chart);
  const { counts = [], edges = [] } = histogram ?? {};
  chart.data.datasets[0].data = counts.map((y, i) => ({ x: (edges[i] + edges[i + 1]) / 2, y, from: edges[i], to: edges[i + 1] }));
  state.threshold = threshold ?? null;
  state.percentile = percentile ?? null;
  const { x } = chart.options.scales;
  x.min = edges.length ? Math.min(edges[0], threshold ?? Infinity) : undefined;
  // A threshold above every validation error (a ratio over 1) stays in view.
  x.max = edges.length ? Math.max(edges[edges.length - 1], (threshold ?? 0) * 1.04) : undefined;
  annotateThreshold(chart, state);
  chart.update('none');
}

function annotateThreshold(chart, { threshold, percentile, colours }) {
  const annotations = {};
  if (threshold !== null && threshold !== undefined) {
    const where = percentile === null || percentile === undefined ? '' : ` (${formatPercentile(percentile)})`;
    annotations.threshold = {
      type: 'line', xMin: threshold, xMax: threshold, borderColor: colours.anomaly, borderWidth: 2, borderDash: [6, 4],
      label: {
        display: true, position: 'end', backgroundColor: colours.background, color: colours.text, padding: 2,
        content: `threshold ${formatError(threshold)}${where}`,
      },
    };
  }
  chart.options.plugins.annotation.annotations = annotations;
}

function datasetOf(chart, id) {
  const index = stateOf.get(chart).series.findIndex((series) => series.id === id);
  return chart.data.datasets[index];
}

/** The readings' span: series drawn ahead of the live line (a forecast) do not count. */
function longestData(chart) {
  const { series } = stateOf.get(chart);
  const own = chart.data.datasets.filter((_, index) => !series[index]?.ahead);
  return own.reduce((a, b) => (b.data.length > a.data.length ? b : a)).data;
}
