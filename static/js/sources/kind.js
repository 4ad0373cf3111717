/**
 * One pull source's block in the Sources panel: a disclosure with its name
 * and state, a settings form built from its fields, Save (PUT) and Test
 * connection (POST …/test, with the values in the form), and its health.
 * Polls refresh the values of inputs the user has not edited since the last
 * save, so a form being filled in is never overwritten.
 */
import { postJSON, putJSON } from '../lib/api.js';
import { button, clearFieldErrors, el, messageOf, say, showFieldError } from '../lib/dom.js';
import { createField } from './fields.js';
import { stateWord, statusRows } from './status.js';

/**
 * `entry` is the kind's item of GET /api/sources' `pull` list; `urls.source` and
 * `urls.test` hold {kind}. `onSaved` is told after a save or a test, so the
 * panel can refresh at once.
 */
export function createSourceKind(entry, { urls, onSaved }) {
  const { kind } = entry;
  const url = (template) => template.replace('{kind}', encodeURIComponent(kind));
  const root = el('details', 'source-kind');
  root.id = `source-${kind}`;
  root.dataset.kind = kind;

  const title = el('span', 'fw-semibold', entry.label || kind);
  const activeBadge = el('span', 'badge source-active', 'the line\'s source');
  activeBadge.hidden = true;
  const stateBadge = el('span', 'badge source-state-stopped', 'stopped');
  stateBadge.dataset.state = 'stopped';
  const badges = el('span', 'source-badges');
  badges.append(activeBadge, stateBadge);
  const summary = el('summary', 'source-summary');
  summary.append(title, el('span', 'text-body-secondary small font-monospace', kind), badges);

  const body = el('div', 'source-body');
  const extras = el('div', 'source-extras');
  const form = el('form', 'source-form');
  form.noValidate = true;
  form.setAttribute('aria-label', `Settings of ${entry.label || kind}`);
  const fieldRow = el('div', 'row g-2 mb-2');
  const save = el('button', 'btn btn-sm btn-primary', 'Save settings');
  save.type = 'submit';
  const test = button('Test connection', 'btn btn-sm btn-outline-primary', testConnection);
  const undo = button('Undo my edits', 'btn btn-sm btn-outline-secondary', undoEdits);
  undo.hidden = true;
  const actions = el('div', 'd-flex flex-wrap align-items-center gap-2');
  actions.append(save, test, undo);
  const result = el('div', 'lstm-status small');
  result.setAttribute('role', 'status');
  result.setAttribute('aria-live', 'polite');
  form.append(fieldRow, actions, result);
  const health = el('dl', 'card-details small source-health mt-2 mb-0');
  health.setAttribute('aria-label', `Health of ${entry.label || kind}`);
  body.append(extras, form, health);
  root.append(summary, body);

  let fields = [];
  let fieldsKey = '';
  let config = {};
  const edited = new Set();

  function buildFields(specs) {
    fields = Object.entries(specs).map(([name, spec]) => createField(kind, name, spec));
    fieldRow.replaceChildren(...fields.map((f) => f.root));
    for (const field of fields) {
      const mark = () => {
        edited.add(field.name);
        undo.hidden = false;
      };
      field.input.addEventListener('input', mark);
      field.input.addEventListener('change', mark);
    }
  }

  /** The saved values into every input the user has not touched. */
  function fill() {
    for (const field of fields) if (!edited.has(field.name)) field.write(config);
  }

  /** The form's settings, whole (a PUT replaces them all); a secret left empty is kept by the server. */
  function values() {
    const out = {};
    for (const field of fields) {
      const { send, value } = field.read();
      if (send) out[field.name] = value;
    }
    return out;
  }

  function collect() {
    clearFieldErrors(form);
    try {
      return values();
    } catch (err) {
      showFieldError(form, err.body.field, err.body.message);
      return null;
    }
  }

  /** A refusal beside its field, and in the result line too (the field may be scrolled away). */
  function refused(err, what) {
    const message = messageOf(err);
    showFieldError(form, err.body?.field, message);
    say(result, `✗ ${what}: ${message}`, 'is-error');
  }

  async function saveSettings(event) {
    event.preventDefault();
    say(result, '');
    const body = collect();
    if (!body) return;
    save.disabled = true;
    try {
      const answer = await putJSON(url(urls.source), body);
      edited.clear();
      undo.hidden = true;
      update(answer, root.dataset.active === 'true');
      say(result, root.dataset.active === 'true'
        ? '✓ Saved: the running source uses these settings from its next poll.' : '✓ Saved.', 'is-done');
      onSaved();
    } catch (err) {
      refused(err, 'Not saved');
    } finally {
      save.disabled = false;
    }
  }

  async function testConnection() {
    say(result, '');
    const body = collect();
    if (!body) return;
    test.disabled = true;
    say(result, 'Testing…');
    try {
      const answer = await postJSON(url(urls.test), body);
      say(result, `✓ ${answer.message}`, 'is-done');
    } catch (err) {
      refused(err, { 400: 'Not tested', 504: 'No answer' }[err.status] ?? 'Connection failed');
    } finally {
      test.disabled = false;
      onSaved();
    }
  }

  function undoEdits() {
    edited.clear();
    undo.hidden = true;
    clearFieldErrors(form);
    say(result, '');
    fill();
  }

  function renderHealth(status) {
    const state = status.state ?? 'stopped';
    stateBadge.textContent = stateWord(state);
    stateBadge.className = `badge source-state-${state}`;
    stateBadge.dataset.state = state;
    health.replaceChildren(...statusRows(status).flatMap(([label, text, key]) => {
      const dd = el('dd', null, text);
      dd.dataset.status = key;
      return [el('dt', null, label), dd];
    }));
  }

  /** A fresh `entry` from the API; `active`: the line reads from this kind now. */
  function update(next, active) {
    const key = JSON.stringify(next.fields);
    if (key !== fieldsKey) {
      fieldsKey = key;
      edited.clear();
      undo.hidden = true;
      buildFields(next.fields);
    }
    title.textContent = next.label || kind;
    config = next.config ?? {};
    fill();
    root.dataset.active = String(active);
    activeBadge.hidden = !active;
    renderHealth(next.status ?? {});
  }

  form.addEventListener('submit', saveSettings);
  update(entry, false);

  return {
    root,
    kind,
    update,
    /** Where kind-specific parts (the replay's upload) go: above the settings. */
    addExtra(node) {
      extras.append(node);
    },
  };
}
