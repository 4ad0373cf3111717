/**
 * The alert rules: which rules alert (high usage, bursts, the z-score's
 * excursion alarm), the high-usage thresholds, the burst rule and the cooldown,
 * for the whole line or as one sensor's override. Boxes show the settings in
 * use until the user edits them; Save sends only what was edited, and a
 * refusal appears beside the field the server names.
 */
import { clearFieldErrors, fieldProblem, say, showRefusal } from '../lib/dom.js';

/** `postControl` sends settings and refreshes every part of the page that shows them. */
export function createAlertRules(form, { postControl, sensorLabel }) {
  const $ = (id) => document.getElementById(`alert-rules-${id}`);
  const ui = { scope: $('scope'), status: $('status'), reset: $('reset'), clear: $('clear'), save: $('save') };
  const inputs = [...form.querySelectorAll('[data-setting]')];
  const edited = new Set();
  let control = null;

  const keyOf = (input) => input.dataset.setting;

  /** The values in use for the scope chosen, and that scope's overrides (a sensor's). */
  function inUse() {
    if (!control) return null;
    const sensor = ui.scope.value;
    if (!sensor) return { values: control, overrides: {} };
    const entry = control.sensors?.[sensor];
    return entry ? { values: entry.effective, overrides: entry.overrides ?? {} } : null;
  }

  function prefill() {
    const current = inUse();
    if (!current) return;
    const overridden = [];
    for (const input of inputs) {
      const key = keyOf(input);
      const value = current.values[key];
      if (!edited.has(input) && value !== undefined && value !== null) {
        if (input.type === 'checkbox') input.checked = Boolean(value);
        else input.value = String(value);
      }
      const isOverride = key in current.overrides;
      form.querySelector(`[data-override-for="${key}"]`).hidden = !isOverride;
      if (isOverride) overridden.push(key);
    }
    ui.clear.hidden = overridden.length === 0;
    ui.clear.dataset.keys = overridden.join(',');
  }

  /** The edited values; an empty box is refused here, ranges are the server's to check. */
  function changes() {
    const result = {};
    for (const input of inputs) {
      if (!edited.has(input)) continue;
      const key = keyOf(input);
      if (input.type === 'checkbox') {
        result[key] = input.checked;
        continue;
      }
      const value = input.value.trim() === '' ? NaN : Number(input.value);
      if (Number.isNaN(value)) throw fieldProblem(key, 'enter a number');
      result[key] = value;
    }
    return result;
  }

  function scopeText() {
    return ui.scope.value ? sensorLabel(ui.scope.value) : 'the whole line';
  }

  async function send(body, done) {
    ui.save.disabled = true;
    try {
      await postControl(ui.scope.value ? { sensor: ui.scope.value, ...body } : body);
      edited.clear();
      prefill();
      done();
    } catch (err) {
      showRefusal(form, ui.status, err);
    } finally {
      ui.save.disabled = false;
    }
  }

  async function save(event) {
    event.preventDefault();
    clearFieldErrors(form);
    say(ui.status, '');
    let body;
    try {
      body = changes();
    } catch (err) {
      showRefusal(form, ui.status, err);
      return;
    }
    const keys = Object.keys(body);
    if (!keys.length) {
      say(ui.status, 'Nothing edited: these are the rules in use.');
      return;
    }
    await send(body, () => say(ui.status, `✓ Saved for ${scopeText()}: ${keys.join(', ')}.`, 'is-done'));
  }

  /** A sensor back on the line's values: its overrides of these rules are removed. */
  async function clearOverrides() {
    clearFieldErrors(form);
    const keys = (ui.clear.dataset.keys || '').split(',').filter(Boolean);
    if (!keys.length || !ui.scope.value) return;
    await send(Object.fromEntries(keys.map((key) => [key, null])),
      () => say(ui.status, `✓ ${scopeText()} follows the line's alert rules again.`, 'is-done'));
  }

  for (const input of inputs) {
    input.addEventListener(input.type === 'checkbox' ? 'change' : 'input', () => edited.add(input));
  }
  ui.scope.addEventListener('change', () => {
    edited.clear();
    clearFieldErrors(form);
    say(ui.status, '');
    prefill();
  });
  ui.reset.addEventListener('click', () => {
    edited.clear();
    clearFieldErrors(form);
    say(ui.status, '');
    prefill();
  });
  ui.clear.addEventListener('click', clearOverrides);
  form.addEventListener('submit', save);

  return {
    setSensors(sensors) {
      const chosen = ui.scope.value;
      ui.scope.replaceChildren(new Option('Whole line', ''), ...sensors.map((s) => new Option(s.label, s.name)));
      if ([...ui.scope.options].some((o) => o.value === chosen)) ui.scope.value = chosen;
      prefill();
    },
    /** A /get_control answer: boxes the user has not edited show the rules in use. */
    apply(next) {
      control = next;
      prefill();
    },
  };
}
