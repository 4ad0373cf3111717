/**
 * Choosing one reading on the value chart: a click on it, or, with the chart
 * focused, ← / → (one reading), Home / End (oldest, newest) and Escape (none).
 * The chosen reading is marked on the chart and handed to `onPick`; a canvas
 * has no elements of its own, so the keys are what make it keyboard-operable.
 */
import { redraw } from '../charts/timeline.js';
import { onReadingClick, readingBeside, setSelected } from '../charts/value.js';

const STEPS = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
/** The zoom plugin's drag threshold: a pointer that moved farther zoomed, it did not pick. */
const DRAG_PX = 8;

export function createReadingPick(chart, { onPick }) {
  const { canvas } = chart;
  let picked = null;

  function pick(point) {
    picked = point;
    setSelected(chart, point?.t ?? null);
    redraw(chart);
    onPick(point);
  }

  // A drag (zoom, pan) ends in a click too: only a click that stayed put picks.
  let down = null;
  canvas.addEventListener('pointerdown', (event) => {
    down = { x: event.offsetX, y: event.offsetY };
  });
  onReadingClick(chart, (point, at) => {
    if (down && Math.hypot(at.x - down.x, at.y - down.y) > DRAG_PX) return;
    pick(point);
  });
  canvas.tabIndex = 0;
  canvas.setAttribute('aria-keyshortcuts', 'ArrowLeft ArrowRight Home End Escape');
  canvas.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && picked !== null) {
      pick(null);
      event.preventDefault();
      return;
    }
    const step = STEPS[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const huge = Number.MAX_SAFE_INTEGER;
    const point = readingBeside(chart, picked?.t ?? null, Math.max(-huge, Math.min(huge, step)));
    if (point) pick(point);
  });

  return {
    /** Nothing chosen any more (another sensor or window: the reading is gone). */
    clear() {
      if (picked !== null) pick(null);
    },
  };
}
