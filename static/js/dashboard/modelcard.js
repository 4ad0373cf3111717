/**
 * A model version's card: its loss curve, a histogram of its reconstruction
 * errors on held-out normal data with the threshold marked, the threshold's
 * percentile, its parameters and data, and the version before it side by side.
 */
import { getJSON } from '../lib/api.js';
import { applyColours } from '../charts/base.js';
import { createLossChart, setLossCurve } from '../charts/loss.js';
import { createHistogramChart, setHistogram } from '../charts/histogram.js';
import { formatError, formatNumber, formatPercentile, formatWhen } from '../lib/format.js';
import { dataWindow, statusBadge, trialText } from './versions.js';

const PARAMETERS = [
  ['time_steps', 'window'], ['epochs', 'epochs'], ['hidden', 'hidden units'], ['batch_size', 'batch'],
  ['learning_rate', 'learning rate'], ['validation_fraction', 'held out'], ['device', 'device'], ['seed', 'seed'],
];

export function createModelCard(prefix, { cardUrl, colours, onChange }) {
  const part = (name) => document.getElementById(`${prefix}-${name}`);
  const ui = {
    section: part('card'), title: part('card-title'), close: part('card-close'), error: part('card-error'),
    details: part('card-details'), compare: part('card-compare'),
  };
  const lossChart = createLossChart(part('card-loss-chart'), colours);
  const histogram = createHistogramChart(part('card-histogram'), colours);
  let openId = null;
  let request = 0;

  ui.close.addEventListener('click', () => close());

  function close() {
    openId = null;
    request += 1;
    ui.section.hidden = true;
    onChange();
  }

  async function load(id) {
    const mine = ++request;
    const card = await getJSON(cardUrl.replace('{id}', String(id)));
    if (mine !== request) return;
    render(card);
  }

  function render(card) {
    ui.title.textContent = `Card of v${card.version}`;
    ui.error.hidden = !card.load_error;
    ui.error.textContent = card.load_error ? `⚠ This model cannot be loaded: ${card.load_error}` : '';
    setLossCurve(lossChart, card.loss_curve ?? []);
    setHistogram(histogram, card.error_histogram, card.threshold, card.threshold_percentile);
    ui.details.replaceChildren(...details(card));
    ui.compare.replaceChildren(comparison(card));
  }

  return {
    get openId() {
      return openId;
    },
    /** Opens (or reloads) a version's card; errors go to the caller. */
    async open(id) {
      openId = id;
      ui.section.hidden = false;
      onChange();
      await load(id);
    },
    /** After the versions changed (an activation): the open card shows its new status. */
    async reload() {
      if (openId !== null) await load(openId);
    },
    close() {
      if (openId !== null) close();
    },
    setColours(next) {
      applyColours(lossChart, next);
      applyColours(histogram, next);
    },
  };
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function item(term, ...description) {
  const dd = el('dd');
  dd.append(...description);
  return [el('dt', null, term), dd];
}

function details(card) {
  const threshold = card.threshold_percentile === undefined || card.threshold_percentile === null
    ? formatError(card.threshold)
    : `${formatError(card.threshold)}, the ${formatPercentile(card.threshold_percentile)} of the held-out errors`;
  const parameters = PARAMETERS.filter(([key]) => card.parameters?.[key] !== undefined)
    .map(([key, label]) => `${label} ${card.parameters[key]}`).join(' · ');
  const rows = [
    ...item('Status', statusBadge(card.status)),
    ...item('Created', formatWhen(card.created_at)),
    ...item('Data', dataWindow(card)),
    ...item('Readings', `${card.readings_used ?? '–'} used, ${card.readings_excluded ?? '–'} left out `
      + '(anomalous, unjudged or inside a scenario)'),
    ...item('Threshold', threshold),
    ...item('Final loss', formatNumber(card.final_loss, 4)),
    ...item('Parameters', parameters || '–'),
  ];
  if (card.comparison) rows.push(...item('Shadow trial', trialText(card.comparison)));
  return rows;
}

/** This version beside its predecessor: did retraining move the threshold or the loss? */
function comparison(card) {
  const before = card.predecessor;
  if (!before) return el('p', 'small text-body-secondary mb-0', 'The first version: nothing to compare with.');
  const table = el('table', 'table table-sm small mb-0 compare');
  const head = el('tr');
  for (const title of ['', `v${card.version} (this)`, `v${before.version} (before)`]) {
    const th = el('th', null, title);
    th.scope = 'col';
    head.append(th);
  }
  table.append(el('thead'), el('tbody'));
  table.tHead.append(head);
  const lines = [
    ['Threshold', formatError(card.threshold), formatError(before.threshold)],
    ['Final loss', formatNumber(card.final_loss, 4), formatNumber(before.final_loss, 4)],
    ['Readings used', String(card.readings_used ?? '–'), String(before.readings_used ?? '–')],
    ['Status', statusBadge(card.status), statusBadge(before.status)],
  ];
  for (const [label, mine, theirs] of lines) {
    const row = el('tr');
    const th = el('th', null, label);
    th.scope = 'row';
    row.append(th);
    for (const value of [mine, theirs]) {
      const td = el('td');
      td.append(value);
      row.append(td);
    }
    table.tBodies[0].append(row);
  }
  return table;
}
