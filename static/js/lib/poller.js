/**
 * Repeats an async task without ever overlapping two runs: the next run is
 * scheduled only after the previous one settled, so a slow server is never
 * flooded (which setInterval would do). Failures back off exponentially, and
 * a hidden tab does not poll at all.
 */
export function createPoller(task, { interval = 1000, maxBackoff = 10000, onSuccess = () => {}, onError = () => {} } = {}) {
  let active = false;
  let failures = 0;
  let rerun = false;
  let wake = null;

  async function loop() {
    while (active) {
      await untilVisible();
      if (!active) return;
      rerun = false;
      try {
        await task();
        failures = 0;
        onSuccess();
      } catch (err) {
        failures += 1;
        onError(err);
      }
      if (active && !rerun) await sleep(delay());
    }
  }

  function delay() {
    return failures === 0 ? interval : Math.min(interval * 2 ** failures, maxBackoff);
  }

  /** Resolves after `ms`, or early through `wake` (kick or stop). */
  function sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      wake = done;
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
    });
  }

  function untilVisible() {
    if (!document.hidden) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        document.removeEventListener('visibilitychange', onChange);
        wake = null;
        resolve();
      };
      const onChange = () => {
        if (!document.hidden) done();
      };
      document.addEventListener('visibilitychange', onChange);
      wake = done;
    });
  }

  return {
    start() {
      if (active) return;
      active = true;
      loop();
    },
    stop() {
      active = false;
      wake?.();
    },
    /** Run again as soon as possible, e.g. after the user changed what to show. */
    kick() {
      rerun = true;
      if (!document.hidden) wake?.();
    },
  };
}
