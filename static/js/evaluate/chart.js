/**
 * Chart.js configuration of the Evaluate page: the series with its label
 * windows and probationary period shaded and each detector's detections
 * marked, and under it one score lane per detector with its threshold.
 *
 * The x axis is the row number (label windows and detections are rows; ticks
 * show the row's timestamp), so uneven timestamps need no parsing. Charts are
 * created once and mutated in place; Chart.js's min/max decimation thins the
 * visible part of a long series (22k rows) to what the canvas can show, and
 * zooming in brings the detail back.
 */
import { formatNumber } from '../lib/format.js';
import {
  Chart, lineStyle, markStyle, seriesOptions, showSameX, stateOf, styleAxes, zoomAlongX,
} from '../charts/base.js';

/** Fixed y-axis width, so the row axes of the two stacked charts line up. */
const Y_AXIS_WIDTH = 140;

/** Okabe–Ito, a shape per detector as well: a colour alone is not enough for every viewer. */
const DETECTOR_STYLES = {
  zscore: { light: '#D55E00', dark: '#D55E00', shape: 'triangle', symbol: '▲' },
  lstm: { light: '#CC79A7', dark: '#CC79A7', shape: 'rectRot', symbol: '◆' },
  numenta: { light: '#009E73', dark: '#009E73', shape: 'circle', symbol: '●' },
  ARTime: { light: '#E69F00', dark: '#E69F00', shape: 'rect', symbol: '■' },
  windowedGaussian: { light: '#0072B2', dark: '#56B4E9', shape: 'star', symbol: '✱' },
};
const SPARE_STYLES = [
  { light: '#000000', dark: '#FFFFFF', shape: 'crossRot', symbol: '✕' },
  { light: '#F0E442', dark: '#F0E442', shape: 'rectRounded', symbol: '▪' },
];

/** A detector's colour (in this theme), point shape and the text symbol that matches it. */
export function detectorStyle(id, theme, order = 0) {
  const style = DETECTOR_STYLES[id] ?? SPARE_STYLES[order % SPARE_STYLES.length];
  return { colour: style[theme] ?? style.light, shape: style.shape, symbol: style.symbol };
}

/** The colours of the page's shading, for the current theme (the palette comes from lib/theme.js). */
function shading(colours) {
  const dark = colours.theme === 'dark';
  return {
    window: colours.scenario,
    windowEdge: dark ? 'rgba(240, 228, 66, 0.55)' : 'rgba(160, 140, 0, 0.7)',
    probationary: dark ? 'rgba(255, 255, 255, 0.07)' : 'rgba(0, 0, 0, 0.06)',
    draft: dark ? 'rgba(86, 180, 233, 0.25)' : 'rgba(0, 114, 178, 0.18)',
    draftEdge: colours.value,
  };
}

/** Row numbers read as the row's timestamp: dates over a long span, dates and times over a short one. */
function rowTick(state) {
  return function tick(value) {
    const ts = state.timestamps[Math.round(value)];
    if (!ts || Math.abs(value - Math.round(value)) > 1e-6) return '';
    const span = spanSeconds(state, this.min, this.max);
    const text = String(ts);
    return span > 3 * 86400 ? text.slice(0, 10) : text.slice(5, 16);
  };
}

function spanSeconds(state, min, max) {
  const first = Date.parse(`${String(state.timestamps[Math.max(0, Math.floor(min))]).slice(0, 19).replace(' ', 'T')}Z`);
  const last = Date.parse(`${String(state.timestamps[Math.min(state.timestamps.length - 1, Math.ceil(max))]).slice(0, 19).replace(' ', 'T')}Z`);
  return Number.isFinite(first) && Number.isFinite(last) ? (last - first) / 1000 : Infinity;
}

/**
 * Zoom and pan along the rows only, as on the dashboard (charts/base.js): drag
 * selects a span, Shift+drag pans, Ctrl+wheel zooms, so the page still scrolls
 * over a chart.
 */
function zoomOptions(colours) {
  const look = shading(colours);
  return {
    limits: { x: { min: 0, max: 1, minRange: 10 } },
    ...zoomAlongX({ backgroundColor: look.draft, borderColor: look.draftEdge }),
  };
}

function baseOptions(state, yAxis, legend) {
  return seriesOptions({
    x: { min: 0, max: 1, ticks: { callback: rowTick(state), maxRotation: 0, autoSkipPadding: 24 } },
    y: yAxis,
    yWidth: Y_AXIS_WIDTH,
    legend,
    plugins: { decimation: { enabled: true, algorithm: 'min-max' } },
    tooltip: {
      callbacks: {
        title: (items) => (items.length ? String(state.timestamps[Math.round(items[0].parsed.x)] ?? '') : ''),
        label: (item) => state.describe(item),
      },
      filter: (item) => !item.dataset.quiet,
    },
    zoom: zoomOptions(state.colours),
  });
}

/** A detector's mark in its own colour and shape. */
function detectorMark(style, extra = {}) {
  return markStyle(style.colour, style.shape, extra);
}

/** Detections in the probationary period do not count: their marks are hollow. */
function hollowEarly(state, style) {
  return { pointBackgroundColor: (ctx) => (ctx.raw?.x < state.probationary ? 'transparent' : style.colour) };
}

function createChart(canvas, state, yAxis, legend) {
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: baseOptions(state, yAxis, legend),
  });
  stateOf.set(chart, state);
  return chart;
}

function newState(colours, kind) {
  return {
    kind, colours, timestamps: [], values: [], windows: [], probationary: 0, draft: null,
    detectors: [], scores: {}, detections: {}, thresholds: {}, describe: () => '',
  };
}

/** The series: values, label windows, probationary period, detections per detector. */
export function createSeriesChart(canvas, colours) {
  const state = newState(colours, 'series');
  state.describe = (item) => {
    if (item.dataset.detector) {
      const early = item.raw.x < state.probationary ? ' — probationary, does not count' : '';
      return `${item.dataset.label}: detection at row ${item.raw.x} (score ${formatNumber(item.raw.score, 4)})${early}`;
    }
    return `Value: ${formatNumber(item.parsed.y, 3)} (row ${item.parsed.x})`;
  };
  const legend = { labels: { usePointStyle: true, boxHeight: 8, generateLabels: solidLegend } };
  const chart = createChart(canvas, state, { title: { display: false, text: '' } }, legend);
  rebuild(chart);
  return chart;
}

/** Legend marks are filled even when a detector's first mark is a hollow (probationary) one. */
function solidLegend(chart) {
  return Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
    const dataset = chart.data.datasets[item.datasetIndex];
    return dataset.detector ? { ...item, fillStyle: dataset.backgroundColor } : item;
  });
}

/** One lane per detector: its anomaly score (0..1) with its threshold dashed and its detections marked. */
export function createLaneChart(canvas, colours) {
  const state = newState(colours, 'lanes');
  state.describe = (item) => {
    if (item.dataset.mark) {
      const early = item.raw.x < state.probationary ? ' — probationary, does not count' : '';
      return `${item.dataset.label}: detection (score ${formatNumber(item.raw.score, 4)})${early}`;
    }
    return `${item.dataset.label}: ${formatNumber(item.raw.score, 4)}`;
  };
  const yAxis = {
    min: 0, max: 1, grid: { display: false },
    afterBuildTicks: (scale) => {
      scale.ticks = state.detectors.map((_, lane) => ({ value: laneBase(state, lane) + 0.5 }));
    },
    ticks: { autoSkip: false, callback: (value) => laneName(state.detectors[laneOf(state, value)]?.label ?? '') },
  };
  const chart = createChart(canvas, state, yAxis, { display: false });
  rebuild(chart);
  return chart;
}

/** Top lane first: the first detector gets the highest base. */
function laneBase(state, lane) {
  return state.detectors.length - 1 - lane;
}

function laneOf(state, value) {
  return state.detectors.length - 1 - Math.floor(value);
}

/**
 * Scores are stretched towards 1, where thresholds live: 0, 0.9, 0.99, 0.999
 * and 0.9999 are evenly spaced (−log10 of 1 − score). On a linear lane the
 * z-score's 0.95 and 0.9973 (|z| 1.96 and 3) would look the same.
 */
export function stretch(score) {
  return Math.min(1, -Math.log10(Math.max(1e-4, 1 - score)) / 4);
}

function laneY(state, lane, score) {
  return score === null || score === undefined ? null : laneBase(state, lane) + 0.1 + 0.8 * stretch(score);
}

/** A lane's name: the detector's label without the "(published)" that the table and legend carry. */
function laneName(label) {
  return label.replace(/\s*\(.*\)$/, '');
}

/** A new series: rows, values (drawn only by the series chart) and the whole range in view. */
export function setSeries(chart, timestamps, values) {
  const state = stateOf.get(chart);
  Object.assign(state, { timestamps, values, windows: [], probationary: 0, draft: null, detections: {}, scores: {} });
  wholeRange(chart);
  rebuild(chart);
}

/** Label windows as [firstRow, lastRow] pairs, and the probationary period's length in rows. */
export function setWindows(chart, windows, probationary = null) {
  const state = stateOf.get(chart);
  state.windows = windows;
  if (probationary !== null) state.probationary = probationary;
  annotate(chart);
  chart.update('none');
}

/** The window being drawn ([a, b] rows) or null. */
export function setDraft(chart, draft) {
  stateOf.get(chart).draft = draft;
  annotate(chart);
  chart.update('none');
}

/** The detectors shown ([{id, label}]), and their per-row scores (lanes only). */
export function setDetectors(chart, detectors, scores = {}) {
  const state = stateOf.get(chart);
  state.detectors = detectors;
  state.scores = scores;
  state.detections = {};
  if (state.kind === 'lanes') {
    chart.canvas.parentElement.style.height = `${Math.max(1, detectors.length) * 3.2 + 2.5}rem`;
    chart.options.scales.y.max = Math.max(1, detectors.length);
  }
  rebuild(chart);
}

/** Each detector's detections (row numbers) and threshold, from a score answer. */
export function setResults(chart, results) {
  const state = stateOf.get(chart);
  for (const [id, result] of Object.entries(results)) {
    state.detections[id] = result.detections ?? [];
    state.thresholds[id] = result.threshold;
  }
  fillMarks(chart);
  annotate(chart);
  chart.update('none');
}

/** Restyles in place after a theme switch. */
export function applyColours(chart, colours) {
  const state = stateOf.get(chart);
  state.colours = colours;
  const { drag } = chart.options.plugins.zoom.zoom;
  const look = shading(colours);
  Object.assign(drag, { backgroundColor: look.draft, borderColor: look.draftEdge });
  rebuild(chart);
}

/** Zooming or panning one chart shows the same rows in the other. */
export function linkRowAxes(linked) {
  const follow = ({ chart }) => showSameX(linked, chart);
  for (const chart of linked) {
    chart.options.plugins.zoom.zoom.onZoomComplete = follow;
    chart.options.plugins.zoom.pan.onPanComplete = follow;
  }
}

/** The whole series in view again, in every chart given. */
export function resetZoom(linked) {
  for (const chart of linked) {
    wholeRange(chart);
    chart.update('none');
  }
}

/**
 * Every row in view, and zoom limits to match. Set here rather than through
 * the plugin's 'original' limits, which remember the first series' length.
 */
function wholeRange(chart) {
  const last = Math.max(1, stateOf.get(chart).timestamps.length - 1);
  Object.assign(chart.options.scales.x, { min: 0, max: last });
  Object.assign(chart.options.plugins.zoom.limits.x, { min: 0, max: last });
}

/** The row under a pixel of the canvas (clamped to the series), or null outside the plot area. */
export function rowAt(chart, offsetX, offsetY) {
  const area = chart.chartArea;
  if (!area || offsetX < area.left || offsetX > area.right || offsetY < area.top || offsetY > area.bottom) return null;
  const n = stateOf.get(chart).timestamps.length;
  if (!n) return null;
  const row = Math.round(chart.scales.x.getValueForPixel(offsetX));
  return Math.max(0, Math.min(n - 1, row));
}

/** Datasets follow the detectors: rebuilt when they change, refilled when detections do. */
function rebuild(chart) {
  const state = stateOf.get(chart);
  const { colours } = state;
  const datasets = [];
  if (state.kind === 'series') {
    const valueColour = colours.muted || colours.text;
    datasets.push({
      label: 'Value', data: state.values.map((y, x) => ({ x, y })), ...lineStyle(valueColour, { borderWidth: 1.2 }),
    });
    state.detectors.forEach((d, order) => {
      const style = detectorStyle(d.id, colours.theme, order);
      datasets.push({ label: d.label, detector: d.id, data: [], ...detectorMark(style, hollowEarly(state, style)) });
    });
  } else {
    state.detectors.forEach((d, lane) => {
      const style = detectorStyle(d.id, colours.theme, lane);
      const scores = state.scores[d.id] ?? [];
      datasets.push({
        label: d.label, detector: d.id, data: scores.map((s, x) => ({ x, y: laneY(state, lane, s), score: s })),
        ...lineStyle(style.colour, { borderWidth: 1 }),
      });
      datasets.push({
        label: d.label, detector: d.id, mark: true, data: [],
        ...detectorMark(style, { pointRadius: 4, pointHoverRadius: 6, ...hollowEarly(state, style) }),
      });
    });
  }
  chart.data.datasets = datasets;
  styleAxes(chart, colours);
  fillMarks(chart);
  annotate(chart);
  chart.update('none');
}

function fillMarks(chart) {
  const state = stateOf.get(chart);
  for (const dataset of chart.data.datasets) {
    if (!dataset.detector || (state.kind === 'lanes' && !dataset.mark)) continue;
    const rows = state.detections[dataset.detector] ?? [];
    const lane = state.detectors.findIndex((d) => d.id === dataset.detector);
    const scores = state.scores[dataset.detector];
    dataset.data = rows.filter((x) => x >= 0 && x < state.timestamps.length).map((x) => {
      const score = scores?.[x] ?? null;
      const y = state.kind === 'series' ? state.values[x] : laneY(state, lane, score ?? 1);
      return { x, y, score };
    });
  }
}

/** Probationary period, label windows, the window being drawn; thresholds in the lanes. */
function annotate(chart) {
  const state = stateOf.get(chart);
  const look = shading(state.colours);
  const series = state.kind === 'series';
  const annotations = {};
  if (state.probationary > 0) {
    annotations.probationary = {
      type: 'box', xMin: 0, xMax: state.probationary - 0.5, drawTime: 'beforeDatasetsDraw',
      backgroundColor: look.probationary, borderWidth: 0,
      label: {
        display: series, content: 'probationary: not scored', position: { x: 'start', y: 'end' },
        color: state.colours.muted, font: { style: 'italic' }, padding: 3,
      },
    };
  }
  state.windows.forEach(([a, b], i) => {
    annotations[`window-${i}`] = {
      type: 'box', xMin: a - 0.5, xMax: b + 0.5, drawTime: 'beforeDatasetsDraw',
      backgroundColor: look.window, borderColor: look.windowEdge, borderWidth: 1,
      label: {
        // Narrow windows side by side would overprint each other's names.
        display: series ? (ctx) => (ctx.element?.width ?? 0) > 64 : false,
        content: `window ${i + 1}`, position: { x: 'start', y: 'start' },
        color: state.colours.text, font: { weight: 'bold' }, padding: 3,
      },
    };
  });
  if (state.draft) {
    const [a, b] = state.draft;
    annotations.draft = {
      type: 'box', xMin: Math.min(a, b) - 0.5, xMax: Math.max(a, b) + 0.5, drawTime: 'afterDatasetsDraw',
      backgroundColor: look.draft, borderColor: look.draftEdge, borderWidth: 1, borderDash: [4, 3],
    };
  }
  if (!series) {
    state.detectors.forEach((d, lane) => {
      const threshold = state.thresholds[d.id];
      if (lane > 0) {
        annotations[`lane-${lane}`] = {
          type: 'line', yMin: laneBase(state, lane) + 1, yMax: laneBase(state, lane) + 1,
          borderColor: state.colours.border, borderWidth: 1,
        };
      }
      if (typeof threshold !== 'number') return;
      const y = laneY(state, lane, threshold);
      annotations[`threshold-${d.id}`] = {
        type: 'line', yMin: y, yMax: y, borderColor: state.colours.text, borderWidth: 1, borderDash: [5, 4],
      };
    });
  }
  chart.options.plugins.annotation.annotations = annotations;
}
