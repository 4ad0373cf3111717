/**
 * The Alarms panel's wiring: one poll every EVERY_MS asks for alarms newer
 * than the newest seen (each becomes a toast; the backlog at load does not)
 * and for the states; the alarm list itself is reloaded when something
 * happened, or every LIST_EVERY_MS for what has no cursor (an alarm cleared,
 * or acknowledged in another browser). The operator's name, asked once, is
 * kept in localStorage. URLs come from the section's data-* attributes.
 */
import { getJSON, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { createAlarmList, needsAck } from './list.js';
import { createToasts } from './toasts.js';
import { createStates } from './states.js';
import { createSuppression } from './suppress.js';
import { createAlertRules } from './rules.js';
import { createMailPanel } from './mail.js';
import { say } from '../lib/dom.js';

const EVERY_MS = 2000;
const LIST_EVERY_MS = 6000;
const LIST_LIMIT = 50;
/** /api/states derives each target's `since` from these newest changes only: enough to cover every target. */
const TIMELINE_LIMIT = 50;
const OPERATOR_KEY = 'linewatch-operator';

/**
 * `root` is the panel's <section>; `navbar` holds the line's state badge and
 * the to-acknowledge count; `overview` the sensor cards, which get a state
 * badge each. `postControl` sends settings and refreshes the page's controls.
 */
export function createAlerts(root, { postControl, sensorLabel, navbar, overview }) {
  const d = root.dataset;
  const urls = {
    alarms: d.alarmsUrl, ack: d.ackUrl, classify: d.classifyUrl, shelves: d.shelvesUrl, unshelve: d.unshelveUrl,
    maintenance: d.maintenanceUrl, deleteMaintenance: d.deleteMaintenanceUrl, states: d.statesUrl,
    mail: d.mailUrl, mailTest: d.mailTestUrl,
  };
  const $ = (id) => document.getElementById(`alerts-${id}`);
  const ui = {
    operator: $('operator'), operatorError: $('operator-error'), status: $('status'), flood: $('flood'),
    empty: $('empty'), filters: [...root.querySelectorAll('input[name="alerts-filter"]')],
  };
  const withId = (template, id) => template.replace('{id}', String(id));

  // --- who is acting: no user accounts yet, so a name this browser remembers

  function storedName() {
    try {
      return localStorage.getItem(OPERATOR_KEY) ?? '';
    } catch {
      return ''; // storage disabled: asked for each visit
    }
  }

  function nameChanged() {
    const name = ui.operator.value.trim();
    ui.operator.classList.toggle('needs-name', !name);
    if (name) {
      ui.operatorError.hidden = true;
      ui.operator.classList.remove('is-invalid');
    }
    try {
      localStorage.setItem(OPERATOR_KEY, name);
    } catch {
      // kept for this page only
    }
  }

  /** The operator's name, or an error (and the name box pointed out) when there is none yet. */
  function who() {
    const name = ui.operator.value.trim();
    if (name) return name;
    ui.operatorError.textContent = 'Enter your name first (at the top of the Alarms panel): it goes with what you do.';
    ui.operatorError.hidden = false;
    ui.operator.classList.add('is-invalid');
    ui.operator.focus();
    throw new Error('Enter your name first.');
  }

  // --- the parts

  /** After an action: its answer, and a fresh list at the next tick, which comes at once. */
  async function changed(request) {
    const answer = await request;
    poll.listDue = true;
    poller.kick();
    return answer;
  }

  const list = createAlarmList($('list'), ui.empty, {
    sensorLabel,
    acknowledge: (alarm, note) => changed(postJSON(withId(urls.ack, alarm.id), { by: who(), note })),
    classify: (alarm, classification) => changed(postJSON(withId(urls.classify, alarm.id), { by: who(), classification })),
  });
  const toasts = createToasts($('toasts'), { sensorLabel, onOpen: reveal });
  const states = createStates({
    lineBadge: navbar.lineState, overview, list: $('states'), timeline: $('timeline'), noChanges: $('no-changes'),
  }, { sensorLabel });
  const suppression = createSuppression({ urls, who, sensorLabel, changed: () => changed(null) });
  const rules = createAlertRules(document.getElementById('alert-rules-form'), { postControl, sensorLabel });
  const mail = createMailPanel({ url: urls.mail, testUrl: urls.mailTest });

  // --- polling

  const poll = {
    cursor: null, // the newest alarm id seen; null until the first answer
    listDue: true,
    listAt: 0,
    newestChange: undefined,
    reveal: null, // an alarm a toast asked for, not listed yet
  };

  const filter = () => ui.filters.find((f) => f.checked)?.value ?? 'active';

  function renderFlood({ last_10_min: count, limit, flood }) {
    ui.flood.textContent = flood
      ? `⚠ FLOOD: ${count} alarms in 10 min (limit ${limit})`
      : `${count} of ${limit} alarms / 10 min`;
    ui.flood.className = `badge ${flood ? 'flood-on' : 'flood-ok'}`;
    ui.flood.dataset.flood = String(flood);
  }

  function renderUnacked(alarms) {
    const count = alarms.filter(needsAck).length;
    const more = alarms.length >= LIST_LIMIT ? '+' : '';
    navbar.unacked.hidden = count === 0;
    navbar.unacked.textContent = `⚠ ${count}${more} to acknowledge`;
    navbar.unacked.dataset.count = String(count);
  }

  /** What every /api/alarms answer carries besides the alarms. */
  function renderAround(answer) {
    renderFlood(answer.flood);
    suppression.render(answer);
  }

  async function loadList() {
    const shown = filter();
    const answer = await getJSON(urls.alarms, { limit: LIST_LIMIT, active: shown === 'active' ? 1 : null });
    if (shown !== filter()) return; // switched meanwhile: the next tick asks again
    poll.listDue = false;
    poll.listAt = Date.now();
    ui.empty.textContent = shown === 'active' ? 'No open alarm.' : 'No alarm yet.';
    list.render(answer.alarms);
    renderAround(answer);
    if (shown === 'active') renderUnacked(answer.alarms);
    if (poll.reveal !== null && list.reveal(poll.reveal)) poll.reveal = null;
  }

  async function tick() {
    const [fresh, current] = await Promise.all([
      getJSON(urls.alarms, poll.cursor === null ? { limit: 1 } : { since: poll.cursor, limit: LIST_LIMIT }),
      getJSON(urls.states, { limit: TIMELINE_LIMIT }),
    ]);
    if (poll.cursor === null) {
      // The newest alarm at load: what is older is listed, not toasted.
      poll.cursor = fresh.alarms[0]?.id ?? 0;
    } else if (fresh.alarms.length) {
      poll.cursor = fresh.alarms[0].id;
      toasts.show([...fresh.alarms].reverse());
      poll.listDue = true;
    }
    renderAround(fresh);
    states.render(current);
    const newest = current.timeline[0]?.id ?? null;
    if (newest !== poll.newestChange) {
      // A state change raises or clears alarms; ids going back mean a new database, whose alarms start over.
      if (newest !== null && poll.newestChange !== undefined && poll.newestChange !== null && newest < poll.newestChange) {
        poll.cursor = null;
      }
      poll.newestChange = newest;
      poll.listDue = true;
    }
    // The unacknowledged count is an open-alarms count: the "all" view asks for it separately.
    if (poll.listDue || Date.now() - poll.listAt >= LIST_EVERY_MS) {
      await loadList();
      if (filter() === 'all') renderUnacked((await getJSON(urls.alarms, { limit: LIST_LIMIT, active: 1 })).alarms);
    }
  }

  const poller = createPoller(tick, {
    interval: EVERY_MS,
    maxBackoff: 10_000,
    onSuccess: () => {
      if (ui.status.classList.contains('is-error')) say(ui.status, '');
    },
    onError: (err) => say(ui.status, err.status === 0
      ? 'Offline: the alarms shown may be out of date.' : `Cannot load the alarms: ${err.message}`, 'is-error'),
  });

  /** A toast's "Show in the list": its alarm may be filtered out (acknowledged and cleared meanwhile). */
  function reveal(id) {
    if (list.reveal(id)) return;
    const all = ui.filters.find((f) => f.value === 'all');
    if (all) all.checked = true;
    poll.reveal = id;
    poll.listDue = true;
    poller.kick();
  }

  ui.operator.value = storedName();
  ui.operator.classList.toggle('needs-name', !ui.operator.value);
  ui.operator.addEventListener('change', nameChanged);
  for (const radio of ui.filters) {
    radio.addEventListener('change', () => {
      poll.listDue = true;
      poller.kick();
    });
  }

  let started = false;
  return {
    /** The server's sensors: the forms' lists; polling starts once sensors can be named. */
    setSensors(sensors) {
      suppression.setSensors(sensors);
      rules.setSensors(sensors);
      if (started) return;
      started = true;
      poller.start();
      mail.start();
    },
    /** A /get_control answer, for the alert rules. */
    apply(control) {
      rules.apply(control);
    },
  };
}
