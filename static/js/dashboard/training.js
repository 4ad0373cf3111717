/**
 * One target's training as its LSTM panel shows it: while a job runs, a
 * progress bar with the epoch and the loss (the job is asked every second);
 * then the loss curve, or the error and a note that the previous model stays
 * active. Any browser can follow a job, whoever started it.
 */
import { getJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { applyColours } from '../charts/base.js';
import { createLossChart, setLossCurve } from '../charts/loss.js';
import { formatNumber } from '../lib/format.js';

const JOB_EVERY_MS = 1000;
const FINISHED = new Set(['done', 'failed']);

export function createTraining(prefix, { jobUrl, colours, onRunningChange, onFinished }) {
  const part = (name) => document.getElementById(`${prefix}-${name}`);
  const ui = {
    progress: part('progress'), bar: part('progress-bar'), text: part('progress-text'),
    loss: part('progress-loss'), status: part('status'), lossBox: part('loss-box'),
  };
  const lossChart = createLossChart(part('loss-chart'), colours);
  // The job shown: {id, poller, finished}; a finished one stays shown until the target changes.
  let followed = null;

  function say(text, tone = '') {
    ui.status.textContent = text;
    ui.status.className = `lstm-status small mb-1 ${tone}`.trim();
  }

  function showProgress(job) {
    const percent = job.epochs ? Math.round((100 * job.epoch) / job.epochs) : 0;
    ui.progress.hidden = false;
    ui.bar.style.width = `${percent}%`;
    ui.bar.setAttribute('aria-valuenow', String(percent));
    // A job is queued until its first epoch ends (the data is read and the model built first).
    ui.text.textContent = `Epoch ${job.epoch}/${job.epochs}${job.status === 'queued' ? ' · starting' : ''}`;
    ui.loss.textContent = job.loss === null ? '' : `loss ${formatNumber(job.loss, 4)}`;
    ui.lossBox.hidden = true;
    say(job.reason === 'scheduled' ? 'Scheduled retraining running…' : 'Training…');
  }

  function show(job) {
    if (!FINISHED.has(job.status)) {
      showProgress(job);
      return;
    }
    ui.progress.hidden = true;
    if (job.status === 'done') {
      say(`✓ Trained: ${job.epochs} epochs, final loss ${formatNumber(job.loss, 4)}.`, 'is-done');
      ui.lossBox.hidden = !job.loss_curve;
      if (job.loss_curve) setLossCurve(lossChart, job.loss_curve);
    } else {
      say(`✗ Training failed: ${job.error ?? 'no reason given'}. The previous model stays active.`, 'is-error');
      ui.lossBox.hidden = true;
    }
  }

  function stop() {
    followed?.poller.stop();
    followed = null;
    onRunningChange(false);
  }

  function follow(job) {
    if (followed?.id === job.id) return;
    stop();
    const jobId = job.id;
    const poller = createPoller(async () => {
      const { job: latest } = await getJSON(jobUrl.replace('{id}', String(jobId)));
      if (followed?.id !== jobId) return;
      show(latest);
      if (FINISHED.has(latest.status)) {
        poller.stop();
        followed.finished = true;
        onRunningChange(false);
        onFinished(latest);
      }
    }, {
      interval: JOB_EVERY_MS,
      onError: (err) => {
        if (err.status && followed?.id === jobId) say(`Cannot follow the training: ${err.message}`, 'is-error');
      },
    });
    followed = { id: jobId, poller, finished: false };
    show(job);
    onRunningChange(true);
    poller.start();
  }

  return {
    follow,
    /** A refusal or failure to show in the panel (e.g. the server's "needs at least … readings"). */
    problem(message) {
      if (!followed || followed.finished) ui.progress.hidden = true;
      say(message, 'is-error');
    },
    get running() {
      return Boolean(followed && !followed.finished);
    },
    /** Another target: forget the job shown. */
    reset() {
      stop();
      ui.progress.hidden = true;
      ui.lossBox.hidden = true;
      say('');
    },
    setColours(next) {
      applyColours(lossChart, next);
    },
  };
}
