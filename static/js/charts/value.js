/**
 * The selected sensor's value chart: the value, the model mean, the mean ±
 * threshold·std band and the detectors' marks (▲ z-score, ◆ LSTM, ■ both,
 * a ring where they disagree, a ▼ pin for the z-score's alarm), a forecast
 * ahead of the live line, and a click on a reading to explain it.
 */
import { decimalsFor, explainZ, explainZAlarm } from '../lib/format.js';
import { describeSplit } from '../dashboard/detector_votes.js';
import { Chart, lineStyle, markStyle, stateOf } from './base.js';
import { createChart, datasetOf, lstmFlagStyle, lstmWhy, withUnit } from './timeline.js';

/** Dashed, so the mean tells from the value without its colour. */
function meanStyle(c) {
  return lineStyle(c.mean, { borderWidth: 1.5, borderDash: [6, 4] });
}

/** The upper edge fills down to the next dataset, the lower edge, forming the band. */
function bandStyle(c, fill) {
  return lineStyle(c.bandLine, { borderWidth: 1, backgroundColor: c.bandFill, fill, pointStyle: 'rect' });
}

/**
 * Marks: a shape per detector, not only a colour. ▲ the z-score, ◆ the LSTM
 * (lstmFlagStyle, in timeline.js), ■ both at once; a ▼ above the reading, the
 * z-score's alarm. Marks draw above the lines (a lower `order` draws later) and
 * come first in the legend.
 */
function anomalyStyle(c) {
  return markStyle(c.anomaly, 'triangle');
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

/** Missing while the model is still learning: a null y leaves a gap. */
function bandEdge(point, sign) {
  const known = point.mean !== null && point.std !== null && point.threshold !== null;
  return { x: point.t, y: known ? point.mean + sign * point.threshold * point.std : null };
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


/** The value axis' unit, and the decimals that the sensor's noise deserves (from a typical std). */
export function setValueUnit(chart, unit, std) {
  const state = stateOf.get(chart);
  state.unit = unit || '';
  state.digits = decimalsFor(std);
  const { title } = chart.options.scales.y;
  title.text = state.unit;
  title.display = Boolean(state.unit);
}
