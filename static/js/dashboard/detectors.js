/**
 * The selected sensor's choice of extra detectors: the catalogue as
 * checkboxes, each with what it does, ticked for those the sensor runs. Save
 * sends the choice (the server checks it: known names, at most 6) and its
 * refusal is shown beside the panel. A box the user ticked keeps its tick
 * while the polls come in, until saved.
 */
import { getJSON } from '../lib/api.js';

export function createDetectorPanel(ui, { url, postControl, sensorLabel }) {
  let catalogue = null;
  let loading = false;
  let sensor = null;
  let saved = [];
  // Ticks the user changed and has not saved: polls must not undo them.
  let dirty = false;

  function say(text, tone = '') {
    ui.status.textContent = text;
    ui.status.className = `lstm-status small ${tone}`.trim();
  }

  function boxes() {
    return [...ui.choices.querySelectorAll('input[type="checkbox"]')];
  }

  function chosen() {
    return boxes().filter((box) => box.checked).map((box) => box.value);
  }

  function choice(entry) {
    const id = `detector-${entry.name.replace(/[^a-z0-9_]/gi, '-')}`;
    const wrap = document.createElement('div');
    wrap.className = 'form-check detector-choice';
    const box = document.createElement('input');
    Object.assign(box, { type: 'checkbox', className: 'form-check-input', id, value: entry.name });
    box.setAttribute('aria-describedby', `${id}-about`);
    const label = document.createElement('label');
    label.className = 'form-check-label font-monospace';
    label.htmlFor = id;
    label.textContent = entry.name;
    const about = document.createElement('div');
    about.id = `${id}-about`;
    about.className = 'form-text mt-0';
    const needs = [entry.forecasts && 'forecasts ahead', entry.seasonal && 'needs time of day',
      `alarm at score ${Number(entry.alarm.toFixed(2))}`].filter(Boolean).join(' · ');
    about.textContent = `${entry.description} (${needs})`;
    wrap.append(box, label, about);
    return wrap;
  }

  function showChoice() {
    if (!catalogue || dirty) return;
    for (const box of boxes()) box.checked = saved.includes(box.value);
  }

  async function loadCatalogue() {
    if (catalogue || loading) return;
    loading = true;
    try {
      const answer = await getJSON(url);
      catalogue = answer.detectors;
      ui.choices.replaceChildren(...catalogue.map(choice));
      showChoice();
    } catch (err) {
      say(`The list of detectors could not be loaded: ${err.message}`, 'is-error');
    } finally {
      loading = false;
    }
  }

  async function save(event) {
    event.preventDefault();
    if (sensor === null) return;  // nothing shown yet: a choice sent now would land line-wide
    const names = chosen();
    try {
      await postControl({ sensor, detectors: names.join(',') });
      dirty = false;
      say(names.length ? `${sensorLabel(sensor)} runs ${names.join(', ')} beside the z-score.`
        : `${sensorLabel(sensor)} runs only the z-score (and the LSTM when it is on).`, 'is-done');
    } catch (err) {
      say(err.body?.message ?? err.message, 'is-error');
    }
  }

  ui.form.addEventListener('submit', save);
  ui.choices.addEventListener('change', () => {
    dirty = true;
    say('');
  });

  return {
    /** Shows a /get_control (or /send_control) answer for `name`, the selected sensor. */
    apply(control, name) {
      if (name !== sensor) {
        sensor = name;
        dirty = false;
        say('');
        ui.sensor.textContent = sensorLabel(name);
      }
      const effective = control.sensors?.[name]?.effective;
      if (!effective) return;
      saved = (effective.detectors ?? '').split(',').filter(Boolean);
      ui.on.textContent = saved.length ? saved.join(', ') : 'none';
      showChoice();
      loadCatalogue();
    },
  };
}
