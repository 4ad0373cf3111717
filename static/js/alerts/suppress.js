/**
 * Quieting alarms on purpose: shelve a sensor's alarms for some minutes (with
 * a reason) and unshelve it early; plan maintenance windows for a sensor or
 * the whole line, and delete them. The lists come from each /api/alarms answer.
 */
import { deleteJSON, postJSON } from '../lib/api.js';
import { formatWhen } from '../lib/format.js';
import {
  button, clearFieldErrors, el, epochOf, fieldProblem, localInput, messageOf, say, showRefusal,
} from '../lib/dom.js';

const HOUR_S = 3600;

/**
 * `urls` holds shelves, unshelve, maintenance and deleteMaintenance ({id} in
 * the last two); `who()` names the operator or throws; `changed()` asks for
 * fresh lists.
 */
export function createSuppression({ urls, who, sensorLabel, changed }) {
  const $ = (id) => document.getElementById(`alerts-${id}`);
  const ui = {
    shelveForm: $('shelve-form'), shelveSensor: $('shelve-sensor'), minutes: $('shelve-minutes'), reason: $('shelve-reason'),
    shelveStatus: $('shelve-status'), shelves: $('shelves'), noShelves: $('no-shelves'),
    maintenanceForm: $('maintenance-form'), maintenanceSensor: $('maintenance-sensor'), from: $('maintenance-from'),
    to: $('maintenance-to'), note: $('maintenance-note'), maintenanceStatus: $('maintenance-status'),
    windows: $('maintenance'), noWindows: $('no-maintenance'),
  };
  let shownShelves = '';
  let shownWindows = '';

  async function submit(form, status, body, url, done) {
    clearFieldErrors(form);
    say(status, '');
    let request;
    try {
      request = body();
    } catch (err) {
      showRefusal(form, status, err);
      return;
    }
    const submitButton = form.querySelector('[type="submit"]');
    submitButton.disabled = true;
    try {
      const answer = await postJSON(url, request);
      done(answer);
      changed();
    } catch (err) {
      showRefusal(form, status, err);
    } finally {
      submitButton.disabled = false;
    }
  }

  function shelveBody() {
    const minutes = ui.minutes.value.trim() === '' ? NaN : Number(ui.minutes.value);
    if (Number.isNaN(minutes)) throw fieldProblem('minutes', 'enter a number of minutes');
    return { sensor: ui.shelveSensor.value, minutes, by: who(), reason: ui.reason.value.trim() };
  }

  function maintenanceBody() {
    const startsAt = epochOf(ui.from.value);
    const endsAt = epochOf(ui.to.value);
    if (startsAt === null) throw fieldProblem('starts_at', 'choose a date and time');
    if (endsAt === null) throw fieldProblem('ends_at', 'choose a date and time');
    return {
      sensor: ui.maintenanceSensor.value || null, starts_at: startsAt, ends_at: endsAt,
      note: ui.note.value.trim(), by: who(),
    };
  }

  /** The next hour, unless the user already chose. */
  function prefillWindow() {
    if (ui.from.value && ui.to.value) return;
    const now = Math.floor(Date.now() / 1000);
    ui.from.value = localInput(now);
    ui.to.value = localInput(now + HOUR_S);
  }

  async function remove(url, status, what) {
    say(status, '');
    try {
      await deleteJSON(url);
      say(status, `✓ ${what}`, 'is-done');
      changed();
    } catch (err) {
      say(status, messageOf(err), 'is-error');
    }
  }

  function renderShelves(shelves) {
    const key = JSON.stringify(shelves);
    if (key === shownShelves) return;
    shownShelves = key;
    ui.noShelves.hidden = shelves.length > 0;
    ui.shelves.replaceChildren(...shelves.map((shelf) => {
      const item = el('li', 'suppress-item d-flex flex-wrap align-items-baseline gap-2');
      item.dataset.shelfId = String(shelf.id);
      item.dataset.sensor = shelf.sensor;
      const text = el('span', 'small flex-grow-1');
      text.append(el('strong', null, sensorLabel(shelf.sensor)),
        ` shelved until ${formatWhen(shelf.until)} by ${shelf.by}${shelf.reason ? ` — ${shelf.reason}` : ''}`);
      const unshelve = button('Unshelve', 'btn btn-sm btn-outline-secondary', () => remove(
        urls.unshelve.replace('{id}', String(shelf.id)), ui.shelveStatus, `${sensorLabel(shelf.sensor)} unshelved.`));
      item.append(text, unshelve);
      return item;
    }));
  }

  function renderWindows(windows) {
    const key = JSON.stringify(windows);
    if (key === shownWindows) return;
    shownWindows = key;
    ui.noWindows.hidden = windows.length > 0;
    ui.windows.replaceChildren(...windows.map((planned) => {
      const item = el('li', 'suppress-item d-flex flex-wrap align-items-baseline gap-2');
      item.dataset.windowId = String(planned.id);
      const target = planned.sensor === null ? 'Whole line' : sensorLabel(planned.sensor);
      const text = el('span', 'small flex-grow-1');
      text.append(el('strong', null, target),
        ` ${formatWhen(planned.starts_at)} → ${formatWhen(planned.ends_at)} by ${planned.by}${planned.note ? ` — ${planned.note}` : ''} `);
      if (planned.active) text.append(el('span', 'badge maintenance-active', '⚙ in progress'));
      const drop = button('Delete', 'btn btn-sm btn-outline-secondary', () => remove(
        urls.deleteMaintenance.replace('{id}', String(planned.id)), ui.maintenanceStatus, `Window for ${target} deleted.`));
      item.append(text, drop);
      return item;
    }));
  }

  ui.shelveForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(ui.shelveForm, ui.shelveStatus, shelveBody, urls.shelves, (shelf) => {
      say(ui.shelveStatus, `✓ ${sensorLabel(shelf.sensor)} shelved until ${formatWhen(shelf.until)}.`, 'is-done');
      ui.reason.value = '';
    });
  });
  ui.maintenanceForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(ui.maintenanceForm, ui.maintenanceStatus, maintenanceBody, urls.maintenance, (planned) => {
      say(ui.maintenanceStatus, `✓ Window for ${planned.sensor === null ? 'the whole line' : sensorLabel(planned.sensor)} added.`,
        'is-done');
      ui.note.value = '';
      ui.from.value = '';
      ui.to.value = '';
      prefillWindow();
    });
  });
  prefillWindow();

  return {
    setSensors(sensors) {
      const options = (select, first) => {
        const chosen = select.value;
        select.replaceChildren(...first, ...sensors.map((s) => new Option(s.label, s.name)));
        if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
      };
      options(ui.shelveSensor, []);
      options(ui.maintenanceSensor, [new Option('Whole line', '')]);
    },
    /** The shelves and windows of an /api/alarms answer. */
    render({ shelves, maintenance }) {
      renderShelves(shelves);
      renderWindows(maintenance);
    },
  };
}
