/** The LSTM panel's loss curve: a model's training loss per epoch, a small line chart. */
import { formatError, formatNumber } from '../lib/format.js';
import { Chart, chartOptions, lineStyle, stateOf, styleAxes } from './base.js';

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
    options: chartOptions({
      scales: { x, y },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: { title: () => '', label: (item) => `epoch ${item.parsed.x}: loss ${formatNumber(item.parsed.y, 4)}` },
        },
      },
    }),
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
