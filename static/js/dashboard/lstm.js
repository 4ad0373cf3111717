/**
 * The LSTM panel of one target, a sensor or the line as a whole: its on/off
 * switch, the Train button, the training's progress, the model versions and a
 * version's card. The versions are asked every few seconds, so that a job or
 * a version another browser (or the schedule) started shows up here too.
 */
import { getJSON, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { createTraining } from './training.js';
import { createVersionList } from './versions.js';
import { createModelCard } from './modelcard.js';

const MODELS_EVERY_MS = 5000;

/**
 * `prefix` names the panel's elements (sensor-lstm, line-lstm). A target is
 * `{key, label, train, models, control(on), enabledIn(control)}`: its name for
 * people, the bodies and query of its requests, and where /get_control says
 * whether its LSTM is on.
 */
export function createLstmPanel(prefix, { urls, colours, postControl }) {
  const part = (name) => document.getElementById(`${prefix}-${name}`);
  const ui = { enabled: part('enabled'), train: part('train'), versionsStatus: part('versions-status') };
  let target = null;
  // Bumped on a new target: answers that were asked for the old one are dropped.
  let generation = 0;

  const training = createTraining(prefix, {
    jobUrl: urls.trainingJob, colours,
    onRunningChange: (running) => { ui.train.disabled = running; },
    onFinished: () => poller.kick(),
  });
  const versions = createVersionList(prefix, { onOpen: openCard, onActivate: activate });
  const card = createModelCard(prefix, { cardUrl: urls.modelCard, colours, onChange: () => poller.kick() });
  const poller = createPoller(refresh, { interval: MODELS_EVERY_MS });

  function sayVersions(text, tone = '') {
    ui.versionsStatus.textContent = text;
    ui.versionsStatus.className = `lstm-status small ${tone}`.trim();
  }

  async function refresh() {
    if (!target) return;
    const asked = generation;
    const { models, training: job } = await getJSON(urls.models, target.models);
    if (asked !== generation) return;
    versions.render(models, card.openId, target.label);
    if (job) training.follow(job);
  }

  async function train() {
    const asked = generation;
    ui.train.disabled = true;
    try {
      const { job } = await postJSON(urls.train, target.train);
      if (asked === generation) training.follow(job);
    } catch (err) {
      // 400: too little data, with how much is needed; 409: one is already running.
      if (asked === generation) training.problem(err.body?.message ?? err.message);
      poller.kick();
    } finally {
      ui.train.disabled = training.running;
    }
  }

  async function activate(model, button) {
    button.disabled = true;
    try {
      await postJSON(urls.activateModel.replace('{id}', String(model.id)), {});
      sayVersions(`v${model.version} is now the active model.`, 'is-done');
      await card.reload();
    } catch (err) {
      sayVersions(err.body?.message ?? err.message, 'is-error');
      button.disabled = false;
    }
    poller.kick();
  }

  async function openCard(model) {
    if (card.openId === model.id) {
      card.close();
      return;
    }
    try {
      await card.open(model.id);
    } catch (err) {
      sayVersions(err.body?.message ?? err.message, 'is-error');
    }
  }

  async function setEnabled() {
    const wanted = ui.enabled.checked;
    try {
      await postControl(target.control(wanted));
    } catch (err) {
      ui.enabled.checked = !wanted;
      training.problem(err.body?.message ?? err.message);
    }
  }

  function reload() {
    generation += 1;
    training.reset();
    card.close();
    versions.clear();
    sayVersions('');
    poller.kick();
  }

  ui.train.addEventListener('click', train);
  ui.enabled.addEventListener('change', setEnabled);

  return {
    /** Shows `next`'s models (a new sensor selected); the same target again changes nothing. */
    setTarget(next) {
      if (target?.key === next.key) return;
      target = next;
      reload();
      poller.start();
    },
    /** A /get_control answer: is this target's LSTM on? */
    apply(control) {
      if (target) ui.enabled.checked = target.enabledIn(control);
    },
    /** Forgets what it shows and asks again: the database was replaced (its jobs and models are gone). */
    reload,
    setColours(next) {
      training.setColours(next);
      card.setColours(next);
    },
  };
}
