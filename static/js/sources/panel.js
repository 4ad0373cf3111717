/**
 * The Sources panel's wiring: which source feeds the line (switched through
 * the page's postControl, so every panel sees the new setting), one block per
 * pull source that GET /api/sources lists — built from its field metadata, so
 * a new kind shows up without a change here — the ingest queue, and how to
 * push. The list is polled every EVERY_MS; URLs come from the section's data-*.
 */
import { getJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { formatWhen } from '../lib/format.js';
import { messageOf, say } from '../lib/dom.js';
import { createSourceKind } from './kind.js';
import { createReplayUpload } from './replay.js';
import { formatSpan } from './status.js';

const EVERY_MS = 3000;
/** The sources that are not pull sources: the line's own simulator, and readings pushed to the API. */
const BUILT_IN = { simulator: 'Simulator (built in)', push: 'Push (POST /api/readings)' };

/** `root` is the panel's <section>; `postControl` sends settings and refreshes every part of the page. */
export function createSources(root, { postControl }) {
  const d = root.dataset;
  const urls = { sources: d.sourcesUrl, source: d.sourceUrl, test: d.sourceTestUrl };
  const $ = (id) => document.getElementById(`sources-${id}`);
  const ui = {
    loadStatus: $('load-status'), switchForm: $('switch-form'), select: $('active'), switchButton: $('switch'),
    nowLabel: $('now-label'), lineStopped: $('line-stopped'), note: $('switch-note'), switchStatus: $('switch-status'),
    queue: $('queue'), push: $('push'), pull: $('pull'), noPull: $('no-pull'),
  };

  const kinds = new Map();
  const state = {
    active: null, // the line's source, as the server last said
    labels: { ...BUILT_IN },
    choicesKey: '',
    chosen: false, // the user picked another source in the list and has not switched yet
    opened: false, // the active kind's block was opened once, at the first answer
  };

  const labelOf = (kind) => state.labels[kind] ?? kind;

  // --- the line's source

  function renderChoices(pull) {
    const choices = [...Object.keys(BUILT_IN), ...pull.map((p) => p.kind)];
    if (state.active && !choices.includes(state.active)) choices.push(state.active); // a kind this server cannot run
    const key = JSON.stringify(choices.map((k) => [k, labelOf(k)]));
    if (key === state.choicesKey) return;
    state.choicesKey = key;
    const picked = ui.select.value;
    ui.select.replaceChildren(...choices.map((k) => new Option(labelOf(k), k)));
    ui.select.value = state.chosen && choices.includes(picked) ? picked : (state.active ?? 'simulator');
  }

  /** What switching to the chosen source does, before the user confirms it. */
  function explain(to) {
    const from = state.active;
    if (!from || to === from) return '';
    const parts = [];
    if (from === 'simulator') parts.push(`Switching stops the simulator: the line's readings then come only from ${labelOf(to)}.`);
    else if (to === 'simulator') parts.push(`The simulator makes every sensor's readings again; ${labelOf(from)} stops.`);
    else parts.push(`${labelOf(from)} stops; the line reads from ${labelOf(to)}.`);
    if (to === 'push') parts.push('Nothing arrives until a client pushes: see How to push readings below.');
    else if (kinds.has(to)) parts.push('Save and test its settings below first.');
    parts.push('Press Switch to confirm.');
    return parts.join(' ');
  }

  function renderSwitch() {
    if (!state.chosen && state.active) ui.select.value = state.active;
    const to = ui.select.value;
    const note = state.chosen ? explain(to) : '';
    ui.note.textContent = note;
    ui.note.hidden = !note;
    ui.switchButton.disabled = !to || to === state.active;
    ui.nowLabel.textContent = state.active ? labelOf(state.active) : '–';
    ui.push.hidden = state.active !== 'push' && to !== 'push';
    for (const block of kinds.values()) block.root.classList.toggle('is-chosen', block.kind === to && to !== state.active);
  }

  function choose() {
    state.chosen = ui.select.value !== state.active;
    say(ui.switchStatus, '');
    // Choosing a pull source opens its settings: they come before switching.
    const block = kinds.get(ui.select.value);
    if (block) block.root.open = true;
    renderSwitch();
  }

  async function switchSource(event) {
    event.preventDefault();
    const to = ui.select.value;
    if (!to || to === state.active) return;
    const from = state.active;
    ui.switchButton.disabled = true;
    say(ui.switchStatus, `Switching to ${labelOf(to)}…`);
    try {
      const control = await postControl({ source: to });
      state.active = control.source;
      state.chosen = false;
      const stopped = from === 'simulator' ? ' The simulator has stopped.' : from ? ` ${labelOf(from)} has stopped.` : '';
      say(ui.switchStatus, `✓ The line now reads from ${labelOf(control.source)}.${stopped}`, 'is-done');
    } catch (err) {
      say(ui.switchStatus, `✗ Not switched: ${messageOf(err)}`, 'is-error');
    }
    renderSwitch();
    poller.kick();
  }

  // --- pull sources, the queue

  function renderPull(pull) {
    for (const entry of pull) {
      state.labels[entry.kind] = entry.label || entry.kind;
      let block = kinds.get(entry.kind);
      if (!block) {
        block = createSourceKind(entry, { urls, onSaved: () => poller.kick() });
        kinds.set(entry.kind, block);
        for (const extra of root.querySelectorAll(`[data-for-kind="${CSS.escape(entry.kind)}"]`)) {
          extra.hidden = false;
          block.addExtra(extra);
        }
        ui.pull.append(block.root);
      }
      block.update(entry, entry.kind === state.active);
    }
    ui.noPull.hidden = pull.length > 0;
    if (!state.opened) {
      state.opened = true;
      const active = kinds.get(state.active);
      if (active) active.root.open = true;
    }
  }

  function renderQueue({ readings, oldest_at: oldest }) {
    ui.queue.textContent = readings
      ? `${readings.toLocaleString()} reading${readings === 1 ? '' : 's'} waiting, the oldest from `
        + `${formatWhen(oldest)} (${formatSpan(Date.now() / 1000 - oldest)} ago)`
      : 'empty: every reading received has been judged';
  }

  async function tick() {
    const answer = await getJSON(urls.sources);
    state.active = answer.active;
    renderPull(answer.pull);
    renderChoices(answer.pull);
    renderQueue(answer.queue);
    renderSwitch();
  }

  const poller = createPoller(tick, {
    interval: EVERY_MS,
    maxBackoff: 15_000,
    onSuccess: () => say(ui.loadStatus, ''),
    onError: (err) => say(ui.loadStatus, err.status === 0
      ? 'Offline: the sources shown may be out of date.' : `Cannot load the sources: ${err.message}`, 'is-error'),
  });

  ui.select.addEventListener('change', choose);
  ui.switchForm.addEventListener('submit', switchSource);
  const upload = root.querySelector('#sources-replay-upload');
  if (upload) createReplayUpload(upload, { onUploaded: () => poller.kick() });
  poller.start();

  return {
    /** A /get_control answer: the source in use, whether the line runs, a sensor for the push examples. */
    apply(control) {
      ui.lineStopped.hidden = control.running !== false;
      const sensor = Object.keys(control.sensors ?? {})[0];
      if (sensor) for (const span of root.querySelectorAll('[data-push-sensor]')) span.textContent = sensor;
      if (control.source && control.source !== state.active) {
        state.active = control.source;
        renderSwitch();
        poller.kick(); // its pull block's badge and health follow
      }
    },
  };
}
