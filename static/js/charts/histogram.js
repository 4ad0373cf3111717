/** The LSTM panel's histogram of a model's held-out reconstruction errors, its threshold marked. */
import { formatError, formatPercentile } from '../lib/format.js';
import { Chart, chartOptions, stateOf, styleAxes } from './base.js';

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
    options: chartOptions({
      scales: { x, y },
      plugins: { legend: { display: false }, tooltip: { callbacks: { title: () => '', label: windowsLabel } } },
    }),
  });
  stateOf.set(chart, state);
  styleAxes(chart, colours);
  return chart;
}

function windowsLabel(item) {
  const { from, to } = item.raw;
  return `${item.parsed.y} windows with error ${formatError(from)}–${formatError(to)}`;
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
