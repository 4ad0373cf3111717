/**
 * The Backtest panel: a sensor, a stretch of its stored history and a
 * detector's settings (prefilled with the ones in use) go to the server as a
 * background job; its progress is followed, then the result is shown beside
 * the current settings, and one click applies the proposed ones.
 */
import { getJSON, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { createBacktestResults, formatSettings } from './results.js';

const JOB_EVERY_MS = 500;
const FINISHED = new Set(['done', 'failed']);
/** The settings of each detector, in the order the form shows them. */
const DETECTOR_KEYS = {
  zscore: ['z_threshold', 'model_size', 'relearn_after'],
  lstm: ['lstm_ratio', 'lstm_percentile'],
};

/**
 * `root` is the panel's <section>, its URLs in data-* attributes. `postControl`
 * sends settings and refreshes every part of the page that shows them;
 * `sensorLabel` names a sensor for people.
 */
export function createBacktest(root, { postControl, sensorLabel, colours }) {
  const $ = (id) => document.getElementById(`backtest-${id}`);
  const urls = { start: root.dataset.backtestUrl, job: root.dataset.backtestJobUrl };
  const ui = {
    form: $('form'), sensor: $('sensor'), range: $('range'), detector: $('detector'), custom: $('custom'),
    from: $('from'), to: $('to'), reset: $('reset'), run: $('run'), status: $('status'), sensorName: $('sensor-name'),
    progress: $('progress'), bar: $('progress-bar'), progressText: $('progress-text'), progressCount: $('progress-count'),
    apply: $('apply'), applyStatus: $('apply-status'),
  };
  const inputs = [...ui.form.querySelectorAll('[data-setting]')];
  const results = createBacktestResults(root, { sensorLabel, colours });
  // The last /get_control answer: the prefill of boxes the user has not edited.
  let control = null;
  // Boxes the user typed in: polls must not overwrite them.
  const edited = new Set();
  // The job followed: {id, poller}; the result shown: what Apply sends.
  let followed = null;
  let shown = null;

  function say(target, text, tone = '') {
    target.textContent = text;
    target.className = `lstm-status small ${tone}`.trim();
  }

  // --- the form

  function prefill() {
    const effective = control?.sensors?.[ui.sensor.value]?.effective;
    ui.sensorName.textContent = sensorLabel(ui.sensor.value);
    if (!effective) return;
    for (const input of inputs) {
      const value = effective[input.dataset.setting];
      if (!edited.has(input) && value !== undefined && value !== null) input.value = String(value);
    }
  }

  function showDetector() {
    for (const group of ui.form.querySelectorAll('[data-detector]')) group.hidden = group.dataset.detector !== ui.detector.value;
  }

  function showRange() {
    const custom = ui.range.value === 'custom';
    if (custom && !ui.from.value) {
      // Start from the last hour, which the user then narrows.
      const now = Date.now() / 1000;
      ui.from.value = localInput(now - 3600);
      ui.to.value = localInput(now);
    }
    ui.custom.hidden = !custom;
  }

  /** From–to in epoch seconds: a preset ends now. */
  function stretch() {
    if (ui.range.value !== 'custom') {
      const to = Math.floor(Date.now() / 1000);
      return { from: to - Number(ui.range.value), to };
    }
    return { from: epochOf(ui.from.value), to: epochOf(ui.to.value) };
  }

  /** What the user asks for; a box that holds no number is refused here, ranges are the server's to check. */
  function request() {
    const detector = ui.detector.value;
    const settings = {};
    for (const key of DETECTOR_KEYS[detector]) {
      const input = ui.form.querySelector(`[data-setting="${key}"]`);
      const value = input.value.trim() === '' ? NaN : Number(input.value);
      if (Number.isNaN(value)) throw fieldProblem(key, 'enter a number');
      settings[key] = value;
    }
    const { from, to } = stretch();
    if (from === null) throw fieldProblem('from', 'choose a date and time');
    if (to === null) throw fieldProblem('to', 'choose a date and time');
    return { sensor: ui.sensor.value, from, to, detector, settings };
  }

  // --- errors beside the field they name

  /** The element that shows a field's error: a preset stretch stands for from and to. */
  function fieldNamed(field) {
    const name = (field === 'from' || field === 'to') && ui.range.value !== 'custom' ? 'range' : field;
    const input = ui.form.querySelector(`[data-field="${name}"]`);
    return input ? { input, error: ui.form.querySelector(`[data-error-for="${name}"]`) } : null;
  }

  function clearProblems() {
    for (const input of ui.form.querySelectorAll('[data-field]')) {
      input.classList.remove('is-invalid');
      input.removeAttribute('aria-invalid');
    }
    for (const error of ui.form.querySelectorAll('[data-error-for]')) {
      error.textContent = '';
      error.hidden = true;
    }
    say(ui.status, '');
  }

  /** Shows a refusal next to its field (shown first, if it was hidden); true if there was one to show it at. */
  function showProblem(field, message) {
    if (DETECTOR_KEYS.lstm.includes(field) && ui.detector.value !== 'lstm') ui.detector.value = 'lstm';
    if (DETECTOR_KEYS.zscore.includes(field) && ui.detector.value !== 'zscore') ui.detector.value = 'zscore';
    showDetector();
    const target = field ? fieldNamed(field) : null;
    if (!target) return false;
    target.input.classList.add('is-invalid');
    target.input.setAttribute('aria-invalid', 'true');
    target.error.textContent = message;
    target.error.hidden = false;
    return true;
  }

  /** A server's refusal ({error, message, field}) beside its field, or under the button when it names none. */
  function showRefusal(err, fallbackField = null) {
    const message = err.body?.message ?? err.message;
    const field = err.body?.field ?? fallbackField;
    if (!showProblem(field, message)) say(ui.status, message, 'is-error');
  }

  // --- the job

  function showProgress(job) {
    // `progress` (0..1) is the server's whole estimate; `done` counts work units, not readings.
    const fraction = job.progress ?? (job.total ? job.done / job.total : 0);
    const percent = Math.round(100 * Math.min(1, Math.max(0, fraction)));
    ui.progress.hidden = false;
    ui.bar.style.width = `${percent}%`;
    ui.bar.setAttribute('aria-valuenow', String(percent));
    ui.progressText.textContent = job.step || (job.status === 'queued' ? 'Queued' : 'Running');
    ui.progressCount.textContent = `${percent} %`;
  }

  function finished(job) {
    ui.progress.hidden = true;
    ui.run.disabled = false;
    results.setStale(false);
    if (job.status === 'done') {
      say(ui.status, '');
      shown = job.result;
      root.dataset.jobId = String(job.id);
      results.render(job.result);
      ui.apply.disabled = false;
      ui.apply.textContent = `Apply these settings to ${sensorLabel(job.result.sensor)}`;
      say(ui.applyStatus, '');
    } else {
      say(ui.status, `✗ The backtest failed: ${job.error ?? 'no reason given'}.`, 'is-error');
    }
  }

  function stopFollowing() {
    followed?.poller.stop();
    followed = null;
  }

  function follow(job) {
    stopFollowing();
    const jobId = job.id;
    const poller = createPoller(async () => {
      const latest = await getJSON(urls.job.replace('{id}', String(jobId)));
      if (followed?.id !== jobId) return;
      if (FINISHED.has(latest.status)) {
        stopFollowing();
        finished(latest);
      } else {
        showProgress(latest);
      }
    }, {
      interval: JOB_EVERY_MS,
      maxBackoff: 5000,
      onError: (err) => {
        if (followed?.id !== jobId) return;
        if (err.status === 404) {
          // The job is gone (a restarted server keeps none): nothing left to wait for.
          stopFollowing();
          ui.progress.hidden = true;
          ui.run.disabled = false;
          results.setStale(false);
        }
        say(ui.status, `Cannot follow the backtest: ${err.message}`, 'is-error');
      },
    });
    followed = { id: jobId, poller };
    results.setStale(true);
    showProgress(job);
    poller.start();
  }

  async function run(event) {
    event.preventDefault();
    clearProblems();
    let body;
    try {
      body = request();
    } catch (err) {
      showRefusal(err);
      return;
    }
    ui.run.disabled = true;
    try {
      const job = await postJSON(urls.start, body);
      if (FINISHED.has(job.status)) finished(job);
      else follow(job);
    } catch (err) {
      ui.run.disabled = false;
      // 409: the LSTM has no trained model for this sensor.
      showRefusal(err, err.status === 409 ? 'detector' : null);
    }
  }

  // --- apply

  async function apply() {
    if (!shown) return;
    const { sensor, settings: { proposed } } = shown;
    ui.apply.disabled = true;
    clearProblems();
    try {
      await postControl({ sensor, ...proposed });
      // The boxes now show the settings in use, which are the ones just applied.
      edited.clear();
      prefill();
      say(ui.applyStatus, `✓ Applied to ${sensorLabel(sensor)}: ${formatSettings(proposed)}. The live detector uses them from the next reading.`,
        'is-done');
    } catch (err) {
      ui.apply.disabled = false;
      showRefusal(err);
      say(ui.applyStatus, `Not applied: ${err.body?.message ?? err.message}`, 'is-error');
    }
  }

  // --- events

  for (const input of inputs) input.addEventListener('input', () => edited.add(input));
  ui.sensor.addEventListener('change', () => {
    edited.clear();
    prefill();
  });
  ui.detector.addEventListener('change', showDetector);
  ui.range.addEventListener('change', showRange);
  ui.reset.addEventListener('click', () => {
    edited.clear();
    clearProblems();
    prefill();
  });
  ui.form.addEventListener('submit', run);
  ui.apply.addEventListener('click', apply);
  showDetector();
  showRange();

  return {
    /** The server's sensors, for the sensor list. */
    setSensors(sensors) {
      const chosen = ui.sensor.value;
      ui.sensor.replaceChildren(...sensors.map((s) => new Option(s.label, s.name)));
      if (sensors.some((s) => s.name === chosen)) ui.sensor.value = chosen;
      prefill();
    },
    /** The dashboard selected `name`: the panel follows, with that sensor's settings. */
    follow(name) {
      if (ui.sensor.value === name) return;
      ui.sensor.value = name;
      edited.clear();
      prefill();
    },
    /** A /get_control answer: boxes the user has not edited show the settings in use. */
    apply(next) {
      control = next;
      prefill();
    },
    setColours(next) {
      results.setColours(next);
    },
  };
}

function fieldProblem(field, message) {
  const err = new Error(message);
  err.body = { field, message };
  return err;
}

/** A datetime-local value (the viewer's time zone) as epoch seconds, or null. */
function epochOf(text) {
  if (!text) return null;
  const millis = new Date(text).getTime();
  return Number.isNaN(millis) ? null : Math.floor(millis / 1000);
}

/** Epoch seconds as a datetime-local value in the viewer's time zone. */
function localInput(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
    + `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
