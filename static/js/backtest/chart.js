/**
 * The Backtest panel's chart: anomalies (or alerts) per hour of the stretch,
 * current settings beside proposed ones as grouped bars. Created once and
 * mutated in place for every result, like every chart (charts/base.js).
 */
import { Chart, chartOptions, styleAxes } from '../charts/base.js';

/** Per side: the dataset's label and its colour (Okabe–Ito blue and vermillion tell apart for every eye). */
const SIDES = [
  { side: 'current', label: 'Current settings', colour: (c) => c.value },
  { side: 'proposed', label: 'Proposed settings', colour: (c) => c.anomaly },
];

const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayHourFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

function barStyle(colour) {
  return { backgroundColor: colour, borderColor: colour, borderWidth: 0, categoryPercentage: 0.8, barPercentage: 0.9 };
}

/** An hour's label: its start in the viewer's time, with the day when the stretch spans days. */
function hourLabel(seconds, withDay) {
  return (withDay ? dayHourFormat : hourFormat).format(new Date(seconds * 1000));
}

export function createHourlyChart(canvas, colours) {
  const chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels: [],
      datasets: SIDES.map(({ label, colour }) => ({ label, data: [], ...barStyle(colour(colours)) })),
    },
    options: chartOptions({
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } },
        y: { beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 5 }, title: { display: true, text: 'anomalies' } },
      },
      plugins: {
        legend: { labels: { boxWidth: 12 } },
        tooltip: { callbacks: { title: (items) => `hour from ${items[0]?.label ?? ''}` } },
      },
    }),
  });
  styleAxes(chart, colours);
  return chart;
}

/** Shows `hourly` (the result's rows) counting `metric` ('anomalies' or 'alerts'). */
export function setHourlyChart(chart, hourly, metric, withDay) {
  chart.data.labels = hourly.map((h) => hourLabel(h.hour, withDay));
  SIDES.forEach(({ side }, index) => {
    chart.data.datasets[index].data = hourly.map((h) => h[`${side}_${metric}`]);
  });
  chart.options.scales.y.title.text = metric;
  chart.update('none');
}

/** Restyles in place after a theme switch. */
export function applyHourlyColours(chart, colours) {
  SIDES.forEach(({ colour }, index) => Object.assign(chart.data.datasets[index], barStyle(colour(colours))));
  styleAxes(chart, colours);
  chart.update('none');
}
