/** Reconstruction error against its threshold: the selected sensor's LSTM score, and the line model's score. */
import { formatError } from '../lib/format.js';
import { lineStyle } from './base.js';
import { createChart, lstmFlagStyle, lstmWhy } from './timeline.js';

/** Dashed and stepped: a threshold holds until the rule (percentile, ratio) changes. */
function thresholdStyle(c) {
  return lineStyle(c.text, { borderWidth: 1.5, borderDash: [6, 4], stepped: true });
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
