/**
 * What the selected sensor's charts hold and whether they follow live
 * data (the value chart, the ratio chart, and any `others` on the same time
 * axis, e.g. the LSTM score). A window is a number of points, or the last hour (server-downsampled
 * at first, then thinned here, so memory stays flat). While the view is paused
 * (the user zoomed, panned or pressed Pause) polling goes on and new points
 * wait in a bounded buffer; resuming jumps back to live.
 *
 * A moment (an alert e-mail's link) is a paused view of the past: the
 * readings around it, the moment marked, until the view goes back to live.
 */
import {
  appendPoints, dropBefore, dropPoints, pointsToThin, redraw, render, resetChart, setMoment, trimToWindow,
} from '../charts/timeline.js';

const HOUR_S = 3600;
/** Points kept in last-hour mode: the server sends at most 2000, live data thins to this. */
const HOUR_CAP = 4000;
/** The span shown around a moment, centred on it (the server thins it to at most 2000 points). */
const MOMENT_S = 900;

export function createView(valueChart, ratioChart, { onPauseChange, others = [] }) {
  const all = [valueChart, ratioChart, ...others];
  let mode = '100';
  let paused = false;
  let waiting = [];
  // More arrived while paused than the window holds: resuming must reload.
  let overflowed = false;
  // The past moment shown (epoch seconds), or null; and whether its readings are drawn yet.
  let moment = null;
  let momentDrawn = false;

  const cap = () => (mode === 'hour' ? HOUR_CAP : Number(mode));

  function fill(points) {
    for (const chart of all) appendPoints(chart, points);
    if (mode === 'hour') {
      const cutoff = points[points.length - 1].t - HOUR_S;
      // The value chart decides, so every chart keeps the same instants.
      const dropped = pointsToThin(valueChart, HOUR_CAP, HOUR_S);
      for (const chart of all) {
        dropBefore(chart, cutoff);
        dropPoints(chart, dropped);
      }
    } else {
      for (const chart of all) trimToWindow(chart, cap());
    }
  }

  function show() {
    for (const chart of all) render(chart);
  }

  function markMoment(at) {
    moment = at;
    momentDrawn = false;
    for (const chart of all) setMoment(chart, at);
  }

  return {
    get paused() { return paused; },

    /** The past moment shown (epoch seconds), or null while the view shows the live window. */
    get moment() { return moment; },

    setMode(next) {
      mode = next;
    },

    /** /get_data parameters for the first request of a window, or for the points after `since`. */
    params(since) {
      if (since === null && moment !== null) return { around: moment, seconds: MOMENT_S };
      if (since === null) return mode === 'hour' ? { seconds: HOUR_S } : { window: cap() };
      return { window: cap(), since };
    },

    /** New points, oldest first: drawn at once, or kept for later while paused. */
    append(points) {
      if (!points.length) return;
      if (moment !== null && !momentDrawn) {
        // The span around the moment, whole: the window's size is for live data.
        momentDrawn = true;
        for (const chart of all) appendPoints(chart, points);
        show();
        return;
      }
      if (!paused) {
        fill(points);
        show();
        return;
      }
      waiting.push(...points);
      if (waiting.length > cap()) {
        waiting.splice(0, waiting.length - cap());
        overflowed = true;
      }
    },

    /** Empties the charts (a new sensor, window or database). */
    clear() {
      waiting = [];
      overflowed = false;
      for (const chart of all) resetChart(chart);
      show();
    },

    /** Re-renders without new data, e.g. after the scenarios or the chance line changed; paused, in place. */
    refresh() {
      for (const chart of all) {
        if (paused) redraw(chart);
        else render(chart);
      }
    },

    /**
     * Shows the readings around `at` (epoch seconds), paused, the moment marked.
     * The charts start empty: the caller asks again from no cursor (params(null)).
     */
    showMoment(at) {
      waiting = [];
      overflowed = false;
      for (const chart of all) resetChart(chart);
      markMoment(at);
      show();
      paused = true;
      onPauseChange(true);
    },

    pause() {
      if (paused) return;
      paused = true;
      onPauseChange(true);
    },

    /**
     * Back to live: the waiting points are drawn, or, if more arrived than the
     * window holds (or a moment was shown), true is returned and the caller
     * reloads the window.
     */
    resume() {
      if (!paused) return false;
      paused = false;
      // The charts hold the past around a moment: live data must be loaded afresh.
      const reload = overflowed || moment !== null;
      if (moment !== null) markMoment(null);
      if (!reload && waiting.length) fill(waiting);
      waiting = [];
      overflowed = false;
      // show() pins the live range; the plugin's resetZoom() would also report a zoom, and re-pause.
      show();
      onPauseChange(false);
      return reload;
    },

    /** Shows the whole window held, without leaving the pause. */
    resetZoom() {
      show();
    },

    waitingCount() {
      return waiting.length;
    },
  };
}
