/**
 * The live scorecard of the session, per detector: injected events caught and
 * missed, false alarms, mean detection delay, and one row per event. It is
 * rebuilt only when the server's answer changed.
 */
import { formatClock, formatNumber, formatSeconds, scenarioName } from '../lib/format.js';

const DETECTOR_NAMES = { zscore: 'Rolling z-score', lstm: 'LSTM autoencoder' };
/** A mark and a word per status: the colour is only a help. */
const STATUS_TEXT = { caught: '✓ caught', missed: '✗ missed', pending: '… pending' };
const STATS = [
  ['events', 'events'], ['caught', 'caught'], ['missed', 'missed'], ['pending', 'pending'],
  ['false_alarms', 'false alarms'], ['mean_delay_s', 'mean delay'],
];

export function createScorecard(container, grace, { sensorLabel }) {
  let shown = '';
  return {
    render(card) {
      grace.textContent = formatNumber(card.grace_s, 0);
      const key = JSON.stringify(card.detectors);
      if (key === shown) return;
      shown = key;
      container.replaceChildren(...Object.entries(card.detectors)
        .map(([name, detector]) => detectorSection(name, detector, sensorLabel)));
    },
  };
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function detectorSection(name, detector, sensorLabel) {
  const section = el('section', 'detector-score');
  section.dataset.detector = name;
  section.append(el('h3', 'h6 mb-2', DETECTOR_NAMES[name] ?? name));

  const stats = el('dl', 'score-stats');
  for (const [key, label] of STATS) {
    const value = key === 'mean_delay_s' ? formatSeconds(detector[key]) : String(detector[key]);
    const item = el('div', `score-stat score-${key}`);
    const dd = el('dd', 'mb-0', value);
    dd.dataset.stat = key;
    item.append(el('dt', null, label), dd);
    stats.append(item);
  }
  section.append(stats);

  if (!detector.details.length) {
    section.append(el('p', 'text-body-secondary mb-0', 'No scenario injected in this session yet.'));
    return section;
  }
  const table = el('table', 'table table-sm mb-0 score-events');
  const head = el('tr');
  for (const title of ['Started', 'Kind', 'Sensor', 'Result', 'Delay']) {
    const th = el('th', null, title);
    th.scope = 'col';
    head.append(th);
  }
  table.append(el('thead'), el('tbody'));
  table.tHead.append(head);
  // Newest first: the event a class just injected is the one it watches.
  for (const event of [...detector.details].reverse()) {
    const row = el('tr');
    row.dataset.scenario = String(event.scenario_id);
    const status = el('span', `badge status-${event.status}`, STATUS_TEXT[event.status]);
    const cells = [
      formatClock(event.starts_at), scenarioName(event.kind),
      sensorLabel(event.sensor), status, formatSeconds(event.delay_s),
    ];
    for (const cell of cells) {
      const td = el('td');
      td.append(cell);
      row.append(td);
    }
    table.tBodies[0].append(row);
  }
  const scroller = el('div', 'score-scroller');
  scroller.append(table);
  section.append(scroller);
  return section;
}
