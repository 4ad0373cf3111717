/**
 * What the selected sensor's charts hold and whether they follow live
 * data (the value chart, the ratio chart, and any `others` on the same time
 * axis, e.g. the LSTM score). A window is a number of points, or the last hour (server-downsampled
 * at first, then thinned here, so memory stays flat). While the view is paused
 * (the user zoomed, panned or pressed Pause) polling goes on and new points
 * wait in a bounded buffer; resuming jumps back to live.
 */
import * as charts from './charts.js';

const HOUR_S = 3600;
/** Points kept in last-hour mode: the server sends at most 2000, live data thins to this. */
const HOUR_CAP = 4000;

export function createView(valueChart, ratioChart, { onPauseChange, others = [] }) {
  const all = [valueChart, ratioChart, ...others];
  let mode = '100';
  let paused = false;
  let waiting = [];
  // More arrived while paused than the window holds: resuming must reload.
  let overflowed = false;

  const cap = () => (mode === 'hour' ? HOUR_CAP : Number(mode));

  function fill(points) {
    for (const chart of all) charts.appendPoints(chart, points);
    if (mode === 'hour') {
      const cutoff = points[points.length - 1].t - HOUR_S;
      // The value chart decides, so every chart keeps the same instants.
      const dropped = charts.pointsToThin(valueChart, HOUR_CAP, HOUR_S);
      for (const chart of all) {
        charts.dropBefore(chart, cutoff);
        charts.dropPoints(chart, dropped);
      }
    } else {
      for (const chart of all) charts.trimToWindow(chart, cap());
    }
  }

  function show() {
    for (const chart of all) charts.render(chart);
  }

  return {
    get paused() { return paused; },

    setMode(next) {
      mode = next;
    },

    /** /get_data parameters for the first request of a window, or for the points after `since`. */
    params(since) {
      if (since === null) return mode === 'hour' ? { seconds: HOUR_S } : { window: cap() };
      return { window: cap(), since };
    },

    /** New points, oldest first: drawn at once, or kept for later while paused. */
    append(points) {
      if (!points.length) return;
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
      for (const chart of all) charts.resetChart(chart);
      show();
    },

    /** Re-renders without new data, e.g. after the scenarios or the chance line changed. */
    refresh() {
      if (!paused) show();
    },

    pause() {
      if (paused) return;
      paused = true;
      onPauseChange(true);
    },

    /**
     * Back to live: the waiting points are drawn, or, if more arrived than the
     * window holds, true is returned and the caller reloads the window.
     */
    resume() {
      if (!paused) return false;
      paused = false;
      const reload = overflowed;
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
