/**
 * The line model's chart: its reconstruction error over every sensor at once,
 * the threshold and its flags. Polled with a `since` cursor while the line's
 * LSTM is on, and bounded to WINDOW points.
 */
import { getJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { applyColours } from '../charts/base.js';
import { appendPoints, render, resetChart, seriesSize, setLstmRule, trimToWindow } from '../charts/timeline.js';
import { createLineScoreChart } from '../charts/score.js';

const WINDOW = 600;

export function createLineScores(canvas, hint, { url, colours }) {
  const chart = createLineScoreChart(canvas, colours);
  let since = null;
  let enabled = null;
  // The poller running while the line's LSTM is on; an answer to an older one is dropped.
  let current = null;

  function showHint() {
    const empty = seriesSize(chart, 'score') === 0;
    hint.textContent = !enabled
      ? `Line scoring is off${empty ? '' : ': the chart holds what was scored before'}.`
      : empty ? 'Waiting for scores: the line needs an active model (train one) and a full window of readings.'
        : `The newest ${seriesSize(chart, 'score')} scores; ◆ where the line's model flags a reading.`;
  }

  async function tick(owner) {
    const { points } = await getJSON(url, { since, window: WINDOW });
    if (owner !== current) return;
    if (points.length) {
      since = points[points.length - 1].id;
      appendPoints(chart, points);
      trimToWindow(chart, WINDOW);
      render(chart);
    }
    showHint();
  }

  /** Stops the poller, and starts a new one while the line's LSTM is on. */
  function restart() {
    current?.stop();
    current = null;
    if (enabled) {
      const poller = createPoller(() => tick(poller), { interval: 1000, maxBackoff: 5000 });
      current = poller;
      poller.start();
    }
    showHint();
  }

  showHint();
  return {
    /** The line's LSTM switched on or off (from /get_control): poll only while it is on. */
    setEnabled(on) {
      if (on === enabled) return;
      enabled = on;
      restart();
    },
    setRule(rule) {
      setLstmRule(chart, rule);
    },
    /** A new database: its ids start again. */
    reset() {
      since = null;
      resetChart(chart);
      render(chart);
      restart();
    },
    setColours(next) {
      applyColours(chart, next);
    },
  };
}
