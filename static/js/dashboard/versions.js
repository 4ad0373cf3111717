/**
 * A target's model versions as a table: status, data window, readings used
 * and left out, threshold, final loss, a load error or the verdict of a shadow
 * trial; per version a button that opens its card and, unless it is active or
 * failed, one that activates it (promotion and rollback alike).
 */
import { formatClock, formatError, formatNumber, formatWhen } from '../lib/format.js';

/** A word with every status: the badge's colour only helps. */
const STATUS_TEXT = {
  active: '● active', shadow: '◐ shadow', candidate: '? candidate', retired: 'retired', failed: '✗ failed',
};

export function createVersionList(prefix, { onOpen, onActivate }) {
  const body = document.getElementById(`${prefix}-versions`);
  const empty = document.getElementById(`${prefix}-no-versions`);
  let shown = '';
  return {
    /** Rebuilt only when the server's answer (or the open card) changed; `label` names the target for buttons. */
    render(models, openId, label) {
      const key = JSON.stringify([models, openId, label]);
      if (key === shown) return;
      shown = key;
      empty.hidden = models.length > 0;
      body.replaceChildren(...models.flatMap((model) => rows(model, model.id === openId, label, onOpen, onActivate)));
    },
    clear() {
      shown = '';
      empty.hidden = false;
      body.replaceChildren();
    },
  };
}

export function statusBadge(status) {
  return el('span', `badge model-${status}`, STATUS_TEXT[status] ?? status);
}

export function dataWindow(model) {
  if (model.data_from === null || model.data_from === undefined) return '–';
  return `${formatWhen(model.data_from)} – ${formatClock(model.data_to)}`;
}

/** What a judged shadow trial found, in one sentence. */
export function trialText(comparison) {
  if (!comparison) return '';
  const { shadow: mine, active: theirs, active_version: version, promoted } = comparison;
  if (mine?.error) return `Shadow trial failed: ${mine.error}; a person decides.`;
  const result = (r) => `${r.false_alarms} false alarm${r.false_alarms === 1 ? '' : 's'}, caught ${r.caught}/${r.events}`;
  const against = theirs ? `; v${version}: ${result(theirs)}` : '';
  return `Shadow trial on ${mine.readings} readings: ${result(mine)}${against} → `
    + `${promoted ? 'promoted' : 'worse, waits for a person'}.`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function rows(model, isOpen, label, onOpen, onActivate) {
  const row = el('tr');
  row.dataset.version = String(model.version);
  row.dataset.status = model.status;

  const open = el('button', 'btn btn-link btn-sm p-0 version-open', `v${model.version}`);
  open.type = 'button';
  open.setAttribute('aria-label', `Card of ${label} v${model.version}`);
  open.setAttribute('aria-expanded', String(isOpen));
  open.addEventListener('click', () => onOpen(model));

  const action = el('td', 'text-end');
  if (model.status !== 'active' && model.status !== 'failed') {
    const activate = el('button', 'btn btn-sm btn-outline-primary version-activate', 'Activate');
    activate.type = 'button';
    activate.setAttribute('aria-label', `Activate ${label} v${model.version}`);
    activate.addEventListener('click', () => onActivate(model, activate));
    action.append(activate);
  }

  const cells = [
    open, statusBadge(model.status), formatWhen(model.created_at), dataWindow(model),
    `${model.readings_used ?? '–'} / ${model.readings_excluded ?? '–'}`,
    formatError(model.threshold), formatNumber(model.final_loss, 4),
  ];
  for (const cell of cells) {
    const td = el('td');
    td.append(cell);
    row.append(td);
  }
  row.append(action);
  if (isOpen) row.classList.add('table-active');

  const notes = [];
  if (model.load_error) notes.push(el('span', 'text-danger-emphasis', `⚠ ${model.load_error}`));
  if (model.comparison) notes.push(el('span', null, trialText(model.comparison)));
  if (!notes.length) return [row];
  const note = el('tr', 'version-note');
  const td = el('td', 'small pt-0');
  td.colSpan = 8;
  td.append(...notes);
  note.append(td);
  return [row, note];
}
