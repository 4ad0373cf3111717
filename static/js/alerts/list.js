/**
 * The alarm list and each alarm's lifecycle: unacknowledged (prominent) →
 * acknowledged (who, when, note) → cleared; a cleared alarm nobody
 * acknowledged still asks for it. Per alarm: acknowledge with a note, mark it
 * a false alarm or a real fault (and undo), its numbers, and why it was
 * suppressed. Items are keyed by id and redrawn only when their alarm
 * changed, so a note being typed survives the polls.
 */
import { formatClock, formatLikelihood, formatNumber, formatPercent, formatWhen } from '../lib/format.js';
import { button, el, messageOf, readable, say } from '../lib/dom.js';

/** Each alarm rule in words; the same in the list, the toasts and wherever an alarm is named. */
const RULE_TEXT = { state: 'high usage', burst: 'burst of anomalies', excursion: 'z-score excursion' };
/** A mark and words per lifecycle: the colour only helps. */
const LIFECYCLE_TEXT = {
  unacknowledged: '⚠ UNACKNOWLEDGED',
  acknowledged: '✓ acknowledged · still active',
  cleared: '✓ cleared',
  cleared_unacknowledged: '⚠ cleared · not acknowledged',
};
const CLASSIFICATION_TEXT = { false_alarm: 'false alarm', real_fault: 'real fault' };
/** The numbers of an alarm, in this order, each in its own format; others follow as they come. */
const DETAILS = [
  ['value', 'value', (v) => formatNumber(v, 3)],
  ['z', 'z', (v) => formatNumber(v, 2)],
  ['threshold', 'threshold', (v) => formatNumber(v, 1)],
  ['likelihood', 'likelihood', formatLikelihood],
  ['ratio', 'anomaly ratio', (v) => formatPercent(v, 1)],
  ['count', 'anomalies', (v) => String(v)],
  ['window', 'window', (v) => String(v)],
];
const HIGHLIGHT_MS = 3000;

export function describeRule(rule) {
  return RULE_TEXT[rule] ?? rule;
}

export function targetLabel(sensor, sensorLabel) {
  return sensor === 'line' ? 'Line' : sensorLabel(sensor);
}

export function needsAck(alarm) {
  return alarm.lifecycle === 'unacknowledged' || alarm.lifecycle === 'cleared_unacknowledged';
}

/**
 * `acknowledge(alarm, note)` and `classify(alarm, classification)` send the
 * request and resolve to the updated alarm; a rejection's message is shown
 * under the alarm.
 */
export function createAlarmList(list, empty, { sensorLabel, acknowledge, classify }) {
  const items = new Map();

  function build(alarm) {
    const li = el('li', 'alarm-item');
    li.tabIndex = -1;
    li.dataset.alarmId = String(alarm.id);
    const view = el('div', 'alarm-view');
    const form = ackForm(alarm.id);
    const status = el('div', 'lstm-status small');
    status.setAttribute('role', 'status');
    li.append(view, form.root, status);
    const item = { li, view, form, status, key: '', alarm };
    form.root.addEventListener('submit', (event) => {
      event.preventDefault();
      run(item, () => acknowledge(item.alarm, form.note.value.trim()), () => {
        form.root.hidden = true;
        form.note.value = '';
      });
    });
    form.cancel.addEventListener('click', () => {
      form.root.hidden = true;
      item.opener?.focus();
    });
    return item;
  }

  /** Runs an action of the item's alarm: buttons off meanwhile, the updated alarm shown, or the refusal. */
  async function run(item, action, done = () => {}) {
    say(item.status, '');
    const buttons = [...item.li.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    try {
      const updated = await action();
      done();
      if (updated) show(updated);
    } catch (err) {
      say(item.status, messageOf(err), 'is-error');
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  function show(alarm) {
    const item = items.get(alarm.id);
    if (!item) return;
    const key = JSON.stringify(alarm);
    if (key === item.key) return;
    item.key = key;
    item.li.classList.remove(`lifecycle-${item.alarm.lifecycle}`);
    item.li.classList.add(`lifecycle-${alarm.lifecycle}`);
    item.alarm = alarm;
    item.li.dataset.lifecycle = alarm.lifecycle;
    item.li.dataset.sensor = alarm.sensor;
    item.li.dataset.classification = alarm.classification ?? '';
    if (alarm.acked_at !== null) item.form.root.hidden = true;
    item.view.replaceChildren(...viewOf(item));
  }

  function viewOf(item) {
    const { alarm } = item;
    const parts = [];
    const head = el('div', 'd-flex flex-wrap justify-content-between align-items-baseline gap-2');
    const title = el('strong', 'alarm-title', `${targetLabel(alarm.sensor, sensorLabel)} · ${describeRule(alarm.rule)} `);
    title.append(el('span', 'text-body-secondary fw-normal', `#${alarm.id}`));
    head.append(title, el('span', `badge lifecycle-badge lifecycle-${alarm.lifecycle}`, LIFECYCLE_TEXT[alarm.lifecycle] ?? alarm.lifecycle));
    parts.push(head);

    parts.push(line('alarm-raised', `Raised ${formatWhen(alarm.raised_at)}: `, alarm.reason));
    if (alarm.cleared_at !== null) {
      parts.push(line('alarm-cleared', `Cleared ${formatWhen(alarm.cleared_at)}: `, alarm.clear_reason ?? ''));
    }
    const details = detailsOf(alarm.details);
    if (details) parts.push(details);
    if (alarm.suppressed) parts.push(line('alarm-suppressed', '◌ Suppressed, no e-mail: ', readable(alarm.suppressed)));

    if (alarm.acked_at !== null) {
      const ack = line('alarm-ack', `✓ Acknowledged by ${alarm.acked_by} at ${formatWhen(alarm.acked_at)}`, '');
      if (alarm.ack_note) ack.append(el('span', null, ` — “${alarm.ack_note}”`));
      parts.push(ack);
    }

    const actions = el('div', 'alarm-actions d-flex flex-wrap align-items-center gap-2 mt-1');
    if (alarm.acked_at === null) {
      const open = button('Acknowledge…', `btn btn-sm ${alarm.lifecycle === 'unacknowledged' ? 'btn-primary' : 'btn-outline-primary'}`, () => {
        item.form.root.hidden = false;
        item.form.note.focus();
      });
      open.dataset.action = 'open-ack';
      item.opener = open;
      actions.append(open);
    }
    if (alarm.classification) {
      const marked = el('span', `small classification classification-${alarm.classification}`,
        `Marked ${CLASSIFICATION_TEXT[alarm.classification]} by ${alarm.classified_by} at ${formatClock(alarm.classified_at)}`);
      const undo = button('Undo', 'btn btn-sm btn-link p-0', () => run(item, () => classify(item.alarm, null)));
      undo.dataset.action = 'unclassify';
      actions.append(marked, undo);
    } else {
      for (const [value, text] of Object.entries(CLASSIFICATION_TEXT)) {
        const mark = button(text[0].toUpperCase() + text.slice(1), 'btn btn-sm btn-outline-secondary',
          () => run(item, () => classify(item.alarm, value)));
        mark.dataset.action = value;
        actions.append(mark);
      }
    }
    parts.push(actions);
    return parts;
  }

  function line(className, lead, text) {
    const node = el('div', `small ${className}`);
    node.append(el('span', 'fw-semibold', lead), text);
    return node;
  }

  function detailsOf(details) {
    if (!details || typeof details !== 'object') return null;
    const known = new Set(DETAILS.map(([key]) => key));
    const rows = DETAILS.filter(([key]) => details[key] !== undefined && details[key] !== null)
      .map(([key, label, format]) => [label, format(details[key])]);
    for (const [key, value] of Object.entries(details)) {
      if (!known.has(key) && value !== null && typeof value !== 'object') {
        rows.push([key.replaceAll('_', ' '), typeof value === 'number' ? formatNumber(value, 3) : String(value)]);
      }
    }
    if (!rows.length) return null;
    const dl = el('dl', 'alarm-details small mb-0');
    for (const [label, value] of rows) {
      const pair = el('div');
      pair.append(el('dt', null, label), el('dd', null, value));
      dl.append(pair);
    }
    return dl;
  }

  function ackForm(id) {
    const root = el('form', 'alarm-ack-form mt-1');
    root.hidden = true;
    root.noValidate = true;
    const label = el('label', 'form-label small mb-0', 'Note (optional): what you found or did');
    label.htmlFor = `alarm-${id}-note`;
    const group = el('div', 'input-group input-group-sm');
    const note = el('input', 'form-control');
    note.id = label.htmlFor;
    note.maxLength = 1000;
    note.dataset.field = 'note';
    const submit = el('button', 'btn btn-primary', 'Acknowledge');
    submit.type = 'submit';
    submit.dataset.action = 'ack';
    const cancel = button('Cancel', 'btn btn-outline-secondary');
    group.append(note, submit, cancel);
    root.append(label, group);
    return { root, note, cancel };
  }

  return {
    /** The alarms to list, newest first, as GET /api/alarms gives them. */
    render(alarms) {
      const wanted = new Set(alarms.map((a) => a.id));
      for (const [id, item] of items) {
        if (!wanted.has(id)) {
          item.li.remove();
          items.delete(id);
        }
      }
      alarms.forEach((alarm, i) => {
        if (!items.has(alarm.id)) items.set(alarm.id, build(alarm));
        show(alarm);
        // Moved only when out of place: moving a node would take the focus from a note being typed.
        const { li } = items.get(alarm.id);
        if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
      });
      empty.hidden = alarms.length > 0;
    },

    /** One alarm changed (an action's answer): redrawn if it is listed. */
    update(alarm) {
      show(alarm);
    },

    /** Scrolls to an alarm and marks it for a moment; false if it is not listed. */
    reveal(id) {
      const item = items.get(id);
      if (!item) return false;
      item.li.scrollIntoView({ block: 'center' });
      item.li.classList.add('is-highlighted');
      item.li.focus({ preventScroll: true });
      setTimeout(() => item.li.classList.remove('is-highlighted'), HIGHLIGHT_MS);
      return true;
    },
  };
}
