/**
 * The selected sensor's LSTM settings: window (time_steps), percentile,
 * ratio and verdict source. Each change is sent at once and the server's
 * refusal is shown beside the form. Also the import of every sensor's
 * time_steps or lstm_ratio from a JSON file; the export is a download link.
 */
import { postJSON } from '../lib/api.js';
import { LSTM, Z_SCORE } from './detector_votes.js';

// How a detector's key reads in the select (the sources themselves come from the server).
const LABELS = { zscore: Z_SCORE, lstm: LSTM };

/** A chosen detector as the verdict source (detectors.js lists them): its flag alone counts. */
function detectorMeaning(name) {
  return `${name} alone; the z-score and LSTM flags are shown but do not count (the z-score stands in while ${name} warms up).`;
}

/**
 * The select offers the combined sources the server lists (`fixed`), then the
 * sensor's chosen detectors (and the source in force, should it be one no
 * longer chosen). Left alone while the user has it open.
 */
function offerSources(select, fixed, effective) {
  if (document.activeElement === select) return;
  const names = [...fixed];
  for (const name of (effective.detectors ?? '').split(',').filter(Boolean)) if (!names.includes(name)) names.push(name);
  if (!names.includes(effective.verdict_source)) names.push(effective.verdict_source);
  if ([...select.options].map((option) => option.value).join() === names.join()) return;
  select.replaceChildren(...names.map((name) => new Option(LABELS[name] ?? name, name)));
}

export function createLstmSettings(ui, { postControl, onImported, sensorLabel }) {
  const inputs = [...ui.form.querySelectorAll('[data-setting]')];
  // Until the first settings arrive there is no sensor to change: a value sent then would land line-wide.
  let sensor = null;
  // What each combined verdict source means, as the server says (/get_control's verdict_sources).
  let meanings = {};
  for (const input of inputs) input.disabled = true;

  function say(target, text, tone = '') {
    target.textContent = text;
    target.className = `lstm-status small ${tone}`.trim();
  }

  function valueOf(input) {
    if (input.tagName === 'SELECT') return input.value;
    // The server checks ranges (and says why); a box that holds no number is refused here.
    return input.value.trim() === '' ? null : Number(input.value);
  }

  async function send(input) {
    if (sensor === null) return;
    const key = input.dataset.setting;
    const value = valueOf(input);
    showMeaning();
    if (value === null || Number.isNaN(value)) {
      say(ui.status, `${key}: enter a number`, 'is-error');
      return;
    }
    try {
      await postControl({ sensor, [key]: value });
      const later = key === 'time_steps' ? ' (used at the next training)' : '';
      say(ui.status, `${sensorLabel(sensor)}: ${key} = ${value}${later}.`, 'is-done');
    } catch (err) {
      say(ui.status, err.body?.message ?? err.message, 'is-error');
    }
  }

  function showMeaning() {
    const { value } = ui.form.querySelector('[data-setting="verdict_source"]');
    ui.meaning.textContent = meanings[value] ?? (value ? detectorMeaning(value) : '–');
  }

  async function importFile(input) {
    const [file] = input.files;
    if (!file) return;
    const key = input.dataset.settingKey;
    try {
      let values;
      try {
        values = JSON.parse(await file.text());
      } catch {
        say(ui.fileStatus, `${file.name} is not a JSON file.`, 'is-error');
        return;
      }
      const control = await postJSON(input.dataset.importUrl, values);
      const count = Object.keys(values).length;
      say(ui.fileStatus, `Imported ${key} for ${count} sensor${count === 1 ? '' : 's'}; the others are back to the default.`,
        'is-done');
      onImported(control);
    } catch (err) {
      say(ui.fileStatus, `${file.name}: ${err.body?.message ?? err.message}`, 'is-error');
    } finally {
      input.value = ''; // choosing the same file again is a new import
    }
  }

  for (const input of inputs) input.addEventListener('change', () => send(input));
  for (const input of ui.files) input.addEventListener('change', () => importFile(input));

  return {
    /** Shows a /get_control answer for `name`, the selected sensor; a box being edited keeps its text. */
    apply(control, name) {
      if (name !== sensor) {
        sensor = name;
        say(ui.status, '');
        say(ui.fileStatus, '');
      }
      const effective = control.sensors?.[name]?.effective;
      if (!effective) return;
      const sources = control.verdict_sources ?? [];
      meanings = Object.fromEntries(sources.map((source) => [source.name, source.text]));
      offerSources(ui.form.querySelector('[data-setting="verdict_source"]'), sources.map((source) => source.name), effective);
      for (const input of inputs) {
        if (document.activeElement !== input) input.value = String(effective[input.dataset.setting]);
        input.disabled = false;
      }
      showMeaning();
    },
  };
}
