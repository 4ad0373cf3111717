/** The accumulated anomaly ratio, in percent, and the ratio that chance alone would give (a dashed line). */
import { formatNumber } from '../lib/format.js';
import { lineStyle, stateOf } from './base.js';
import { createChart } from './timeline.js';

function ratioStyle(c) {
  return lineStyle(c.ratio, { backgroundColor: c.ratioFill, fill: 'origin' });
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

/** The ratio that Gaussian noise alone gives at this threshold, as a dashed line. */
export function setChanceRatio(chart, ratio, threshold) {
  stateOf.get(chart).chance = { ratio, threshold };
  // Keep the line in view at low thresholds, where chance is large.
  chart.options.scales.y.suggestedMax = Math.max(1, ratio * 100 * 1.3);
}
