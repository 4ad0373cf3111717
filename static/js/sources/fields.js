/**
 * One input per setting of a pull source, built from the field metadata that
 * GET /api/sources sends ({type, default, help, secret}): text, number, switch,
 * a JSON box for a mapping, a password box for a secret. Each field writes the
 * saved value into its input and reads the input back as the value to send.
 */
import { el, fieldProblem } from '../lib/dom.js';

const ACRONYMS = new Set(['url', 'api', 'id', 'tls', 'ssl', 'http', 'mqtt', 'qos', 'csv', 'json']);

/** A setting's name for people: interval_s → "Interval (s)", api_url → "API URL". */
export function fieldLabel(name) {
  const words = name.replace(/_s$/, ' (s)').split('_').map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w)).join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The input of setting `name` of source `kind`: {root, input, name, write(config), read()}.
 * read() gives {send: false} for a secret left empty (the server keeps it) and throws a
 * field problem for a box it cannot read.
 */
export function createField(kind, name, spec) {
  const id = `source-${kind}-${name}`;
  const type = spec.secret ? 'secret' : spec.type;
  const root = el('div', type === 'dict' || !SCALAR.has(type) ? 'col-12' : 'col-sm-6');
  const keep = 'never shown; left empty, the saved value is kept';
  const help = el('div', 'form-text mt-0', spec.secret ? [spec.help, keep].filter(Boolean).join(' · ') : spec.help || '');
  help.id = `${id}-help`;
  const error = el('div', 'sources-error small');
  error.id = `${id}-error`;
  error.dataset.errorFor = name;
  error.hidden = true;
  const input = buildInput(type, spec);
  input.id = id;
  input.dataset.field = name;
  input.setAttribute('aria-describedby', `${id}-help ${id}-error`);
  const label = el('label', type === 'bool' ? 'form-check-label' : 'form-label mb-0', fieldLabel(name));
  label.htmlFor = id;
  if (type === 'bool') {
    const check = el('div', 'form-check form-switch mt-1');
    check.append(input, label);
    root.append(check, help, error);
  } else {
    root.append(label, input, help, error);
  }

  return {
    root,
    input,
    name,
    /** Shows the saved value (`config` as the API shows it: a secret only as `<name>_set`). */
    write(config) {
      if (type === 'secret') {
        input.value = '';
        input.placeholder = config[`${name}_set`] ? 'set' : 'not set';
        return;
      }
      const value = config[name] ?? spec.default;
      if (type === 'bool') input.checked = Boolean(value);
      else if (!SCALAR.has(type)) input.value = value === null || value === undefined ? '' : JSON.stringify(value, null, 1);
      else input.value = value === null || value === undefined ? '' : String(value);
    },
    /** {send, value}: what Save and Test send for this setting. */
    read() {
      if (type === 'secret') return input.value === '' ? { send: false } : { send: true, value: input.value };
      if (type === 'bool') return { send: true, value: input.checked };
      const text = input.value.trim();
      if (type === 'int' || type === 'float') {
        // Empty: the server's default.
        if (text === '') return { send: true, value: null };
        const value = Number(text);
        if (Number.isNaN(value)) throw fieldProblem(name, 'enter a number');
        return { send: true, value };
      }
      if (type === 'str') return { send: true, value: input.value };
      return { send: true, value: text === '' ? null : parseJSON(name, text, type) };
    },
  };
}

const SCALAR = new Set(['str', 'int', 'float', 'bool', 'secret']);

function buildInput(type, spec) {
  if (type === 'bool') {
    const input = el('input', 'form-check-input');
    input.type = 'checkbox';
    input.setAttribute('role', 'switch');
    return input;
  }
  if (type === 'int' || type === 'float') {
    const input = el('input', 'form-control form-control-sm');
    input.type = 'number';
    input.step = type === 'int' ? '1' : 'any';
    input.inputMode = type === 'int' ? 'numeric' : 'decimal';
    if (spec.default !== null && spec.default !== undefined) input.placeholder = `default ${spec.default}`;
    return input;
  }
  if (type === 'secret') {
    const input = el('input', 'form-control form-control-sm');
    input.type = 'password';
    input.autocomplete = 'new-password';
    return input;
  }
  if (type === 'str') {
    const input = el('input', 'form-control form-control-sm');
    input.type = 'text';
    input.spellcheck = false;
    return input;
  }
  // A mapping (sensor → query, say) or any other structure: JSON in a box.
  const input = el('textarea', 'form-control form-control-sm font-monospace');
  input.rows = 3;
  input.spellcheck = false;
  input.placeholder = type === 'dict' ? '{"sensor": "…"}' : 'JSON';
  return input;
}

function parseJSON(name, text, type) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw fieldProblem(name, type === 'dict' ? 'enter JSON, e.g. {"sensor": "…"}' : 'enter JSON');
  }
  if (type === 'dict' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw fieldProblem(name, 'enter a JSON object, e.g. {"sensor": "…"}');
  }
  return value;
}
