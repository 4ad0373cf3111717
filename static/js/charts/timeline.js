/**
 * What the dashboard's time charts share (the value, ratio and score charts:
 * charts/value.js, ratio.js, score.js): readings on an x axis of epoch
 * seconds with ticks on whole clock units, a tooltip per series, fed
 * incrementally (append, trim, thin) and annotated with the injected
 * scenarios, chance, a marked moment and the selected reading.
 *
 * Data is given pre-parsed ({x, y} with x = epoch seconds, sorted), which lets
 * Chart.js skip parsing and sorting (`parsing: false`, `normalized: true`).
 * The zoom and annotation plugins register themselves when their UMD builds load.
 */
import { explainLstm, formatClock, formatNumber, formatPercent, scenarioName } from '../lib/format.js';
import {
  Chart, markStyle, seriesOptions, showSameX, stateOf, styleAxes, zoomAlongX,
} from './base.js';

/** Tick steps in seconds that read well on a clock. */
const CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600];
const MIN_TICK_SPACING_PX = 110;

/** Fixed y-axis width, so the time axes of the two stacked charts line up. */
const Y_AXIS_WIDTH = 72;

// Chart text follows the page's root font size, which app.css raises for wall screens.
Chart.defaults.font.size = 0.8 * parseFloat(getComputedStyle(document.documentElement).fontSize);

/** The LSTM's flag, ◆: on the value chart and, smaller, on the score charts (charts/value.js has the other marks). */
export function lstmFlagStyle(c) {
  return markStyle(c.lstm, 'rectRot', { pointRadius: 6, pointHoverRadius: 9 });
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

/**
 * A time chart: `series` (each with its id, label, style(colours), toXY(point,
 * state) and describe(item, state)) on the clock axis, `yAxis` beside it.
 */
export function createChart(canvas, series, colours, yAxis, legend, zoomable = true) {
  const state = {
    series, colours, unit: '', digits: 2, scenarios: [], chance: null, rule: null, agreement: null, moment: null,
    selected: null, horizon: null, forecastKey: '', annotate: buildAnnotations,
  };
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: series.map(({ label, style }) => ({ label, data: [], ...style(colours) })) },
    options: seriesOptions({
      x: { afterBuildTicks: clockTicks, ticks: { callback: formatClock, maxRotation: 0 } },
      y: yAxis,
      yWidth: Y_AXIS_WIDTH,
      legend,
      tooltip: tooltipOptions(series, state),
      zoom: zoomable ? zoomAlongX({ backgroundColor: colours.bandFill, borderColor: colours.value }) : {},
    }),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

/** A value with the decimals and unit of the chart's sensor (setValueUnit). */
export function withUnit(value, state) {
  const text = formatNumber(value, state.digits);
  return state.unit ? `${text} ${state.unit}` : text;
}

/** Why the LSTM flagged a reading, from what its mark keeps. */
export function lstmWhy(raw) {
  return `LSTM: ${explainLstm({ score: raw.score, threshold: raw.lstmThreshold, ...raw.rule })}`;
}

/** The LSTM's threshold rule in force ({percentile, ratio}): new flags carry it, to explain themselves. */
export function setLstmRule(chart, rule) {
  stateOf.get(chart).rule = rule;
}

/**
 * Zooming or panning one chart shows the same span in the others, and tells
 * `onUserView` so that live data stops moving the view away from the user.
 * A wheel zoom reports at once; a drag only when it ends (a click is no zoom).
 */
export function linkTimeAxes(linked, onUserView) {
  const follow = ({ chart }) => {
    showSameX(linked, chart);
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

/** Injected scenarios, shaded over their time span as the ground truth. */
export function setScenarios(chart, scenarios) {
  stateOf.get(chart).scenarios = scenarios;
}

/** A past moment to mark with a vertical line (epoch seconds; null: none), e.g. the one an alert links to. */
export function setMoment(chart, at) {
  stateOf.get(chart).moment = at;
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

export function datasetOf(chart, id) {
  const index = stateOf.get(chart).series.findIndex((series) => series.id === id);
  return chart.data.datasets[index];
}

/** The readings' span: series drawn ahead of the live line (a forecast) do not count. */
function longestData(chart) {
  const { series } = stateOf.get(chart);
  const own = chart.data.datasets.filter((_, index) => !series[index]?.ahead);
  return own.reduce((a, b) => (b.data.length > a.data.length ? b : a)).data;
}
