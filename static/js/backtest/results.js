/**
 * A finished backtest as the panel shows it: current settings beside proposed
 * ones, in totals, per hour (a chart), per shift, per injected scenario, and
 * against chance. Pure rendering of the server's `result`; nothing is asked.
 */
import { createHourlyChart, setHourlyChart, applyHourlyColours } from './chart.js';
import { formatClock, formatNumber, formatPercent, formatSeconds, scenarioName } from '../lib/format.js';

const SIDES = ['current', 'proposed'];
const SIDE_NAMES = { current: 'Current settings', proposed: 'Proposed settings' };
const DETECTOR_NAMES = { zscore: 'z-score', lstm: 'LSTM' };
const SETTING_NAMES = {
  z_threshold: 'z-threshold', model_size: 'model size', relearn_after: 'relearn after',
  lstm_ratio: 'ratio ×', lstm_percentile: 'percentile',
};
/** A mark and a word per status: the colour is only a help. */
const STATUS_TEXT = { caught: '✓ caught', missed: '✗ missed', pending: '… pending' };

/** The rows of the totals table: key, what it counts, how one side's numbers read. */
const SUMMARY = [
  ['anomalies', 'Anomalies', (r, side) => String(r[side].anomalies)],
  ['alerts', 'Alerts', (r, side) => String(r[side].alerts)],
  ['anomalies_per_hour', 'Anomalies per hour', (r, side) => formatNumber(r[side].anomalies_per_hour, 1)],
  ['alerts_per_hour', 'Alerts per hour', (r, side) => formatNumber(r[side].alerts_per_hour, 1)],
  ['flag_rate', 'Readings flagged', (r, side) => formatPercent(r[side].flag_rate)],
  ['caught', 'Scenarios caught', (r, side) => caughtText(r[side].scenarios)],
  ['missed', 'Scenarios missed', (r, side) => String(r[side].scenarios.missed)],
  ['false_alarms', 'False alarms', (r, side) => String(r[side].scenarios.false_alarms)],
  ['mean_delay_s', 'Mean delay', (r, side) => formatSeconds(r[side].scenarios.mean_delay_s)],
];

/** "z-threshold 2.5 · model size 200 · relearn after 30". */
export function formatSettings(settings) {
  return Object.entries(settings ?? {})
    .map(([key, value]) => `${SETTING_NAMES[key] ?? key} ${value}`).join(' · ');
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

/** An instant of a stretch that may lie days back: the clock, with the day unless it is today. */
function formatInstant(seconds) {
  const date = new Date(seconds * 1000);
  const today = new Date().toDateString() === date.toDateString();
  return today ? formatClock(seconds) : `${dayFormat.format(date)} ${formatClock(seconds)}`;
}

/** A stretch's length in the unit that reads best: "40 s", "12 min", "7.5 h", "6.9 days". */
function formatDuration(hours) {
  const seconds = hours * 3600;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (hours < 2) return `${Math.round(seconds / 60)} min`;
  if (hours < 48) return `${formatNumber(hours, 1)} h`;
  return `${formatNumber(hours / 24, 1)} days`;
}

function caughtText({ caught, events, pending }) {
  return `${caught} of ${events}${pending ? ` (${pending} pending)` : ''}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(cells, { header = null, data = {} } = {}) {
  const tr = el('tr');
  Object.assign(tr.dataset, data);
  if (header !== null) {
    const th = el('th', null);
    th.scope = 'row';
    th.append(header);
    tr.append(th);
  }
  for (const [content, cellData] of cells) {
    const td = el('td');
    Object.assign(td.dataset, cellData);
    td.append(content);
    tr.append(td);
  }
  return tr;
}

export function createBacktestResults(root, { sensorLabel, colours }) {
  const $ = (id) => document.getElementById(`backtest-${id}`);
  const ui = {
    results: $('results'), headline: $('headline'), summary: $('summary'), shifts: $('shifts'),
    scenarios: $('scenarios'), noScenarios: $('no-scenarios'), chance: $('chance'), rules: $('rules'),
    metrics: [...root.querySelectorAll('input[name="backtest-metric"]')],
  };
  const chart = createHourlyChart($('hourly-chart'), colours);
  let result = null;

  const metric = () => ui.metrics.find((input) => input.checked)?.value ?? 'anomalies';

  function renderHeadline(r) {
    ui.headline.replaceChildren(
      el('strong', null, sensorLabel(r.sensor)),
      ` · ${formatInstant(r.from)} – ${formatInstant(r.to)} · `
        + `${r.readings} readings over ${formatDuration(r.hours)} · ${DETECTOR_NAMES[r.detector] ?? r.detector} detector`,
    );
  }

  function renderSummary(r) {
    for (const side of SIDES) root.querySelector(`[data-settings="${side}"]`).textContent = formatSettings(r.settings[side]);
    ui.summary.replaceChildren(...SUMMARY.map(([key, label, text]) => row(
      SIDES.map((side) => [text(r, side), { side }]),
      { header: label, data: { stat: key } },
    )));
  }

  function renderShifts(r) {
    ui.shifts.replaceChildren(...r.shifts.map((shift) => {
      const name = el('span', null, `${shift.name} `);
      name.append(el('span', 'text-body-secondary small', `${shift.start}–${shift.end}`));
      const keys = ['current_anomalies', 'proposed_anomalies', 'current_alerts', 'proposed_alerts'];
      return row([[String(shift.readings), { stat: 'readings' }], ...keys.map((key) => [String(shift[key]), { stat: key }])],
        { header: name, data: { shift: shift.name } });
    }));
  }

  function outcome(event) {
    if (!event) return el('span', 'text-body-secondary', '–');
    const cell = el('span', null);
    cell.append(el('span', `badge status-${event.status}`, STATUS_TEXT[event.status] ?? event.status));
    if (event.status === 'caught') cell.append(` after ${formatSeconds(event.delay_s)}`);
    return cell;
  }

  /** One row per injected scenario, each side's verdict on it beside the other's. */
  function renderScenarios(r) {
    const bySide = Object.fromEntries(SIDES.map((side) => [side, new Map(r[side].scenarios.details.map((d) => [d.scenario_id, d]))]));
    const events = new Map();
    for (const side of SIDES) for (const d of r[side].scenarios.details) events.set(d.scenario_id, d);
    const ordered = [...events.values()].sort((a, b) => a.starts_at - b.starts_at);
    ui.scenarios.replaceChildren(...ordered.map((event) => row(
      [[formatInstant(event.starts_at), {}], [scenarioName(event.kind), { stat: 'kind' }],
        ...SIDES.map((side) => {
          const verdict = bySide[side].get(event.scenario_id);
          return [outcome(verdict), { side, status: verdict?.status ?? '' }];
        })],
      { data: { scenario: String(event.scenario_id) } },
    )));
    ui.noScenarios.hidden = ordered.length > 0;
  }

  /** Each side's catch count beside what flagging the same share of readings at random would catch. */
  function renderChance(r) {
    const lines = SIDES.map((side) => {
      const chance = r.chance[side];
      const { caught } = r[side].scenarios;
      const p = el('p', 'mb-1');
      p.dataset.side = side;
      p.append(el('strong', null, `${SIDE_NAMES[side]}: `));
      if (!chance.events) {
        p.append(`flagged ${formatPercent(chance.flag_rate)} of readings; no injected scenario in this stretch to compare with chance.`);
        return p;
      }
      const of = `of ${chance.events} scenario${chance.events === 1 ? '' : 's'}`;
      p.append(`caught ${caught} ${of}. A detector that flagged the same share of readings `
        + `(${formatPercent(chance.flag_rate)}) at random would catch `);
      const expected = el('span', 'backtest-expected', formatNumber(chance.expected_caught, 1));
      expected.dataset.expected = String(chance.expected_caught);
      p.append(expected, ` ${of}.`);
      return p;
    });
    ui.chance.replaceChildren(...lines);
  }

  function renderRules(r) {
    const short = r.hours < 1 ? 'the per-hour rates scale up a stretch shorter than an hour' : '';
    const sentences = [r.alert_rule, r.warm_up, short].filter(Boolean).map((s) => `${s[0].toUpperCase()}${s.slice(1)}.`);
    ui.rules.textContent = sentences.join(' ');
  }

  function renderChart() {
    if (result) setHourlyChart(chart, result.hourly, metric(), result.hours > 24);
  }

  for (const input of ui.metrics) input.addEventListener('change', renderChart);

  return {
    render(next) {
      result = next;
      ui.results.hidden = false;
      ui.results.classList.remove('is-stale');
      ui.results.removeAttribute('aria-busy');
      renderHeadline(next);
      renderSummary(next);
      renderShifts(next);
      renderScenarios(next);
      renderChance(next);
      renderRules(next);
      renderChart();
    },
    /** A new run is under way: the shown result is dimmed until it is replaced. */
    setStale(stale) {
      ui.results.classList.toggle('is-stale', stale);
      if (stale) ui.results.setAttribute('aria-busy', 'true');
      else ui.results.removeAttribute('aria-busy');
    },
    setColours(next) {
      applyHourlyColours(chart, next);
    },
  };
}
