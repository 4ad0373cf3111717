/**
 * Drawing label windows on the series chart: while drawing is on, a drag adds
 * a window (snapped to rows) and a click on a window removes it. Dragging to
 * zoom is off meanwhile; Shift+drag still pans and Ctrl+wheel still zooms.
 */
import { rowAt, setDraft } from './chart.js';

/** A press that moves less than this is a click, not a drag. */
const CLICK_PX = 4;

/**
 * `windows()` gives the current [firstRow, lastRow] pairs; `onAdd([a, b])`
 * and `onRemove(index)` change them (the page re-draws and re-scores).
 */
export function createWindowDrawer(chart, { windows, onAdd, onRemove }) {
  const canvas = chart.canvas;
  let enabled = false;
  let press = null;

  function offset(event) {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  function down(event) {
    if (!enabled || event.button !== 0 || event.shiftKey) return;
    const at = offset(event);
    const row = rowAt(chart, at.x, at.y);
    if (row === null) return;
    press = { x: at.x, row, moved: false };
    canvas.setPointerCapture?.(event.pointerId);
    event.preventDefault();
  }

  function move(event) {
    if (!press) return;
    const at = offset(event);
    if (Math.abs(at.x - press.x) >= CLICK_PX) press.moved = true;
    if (!press.moved) return;
    const row = rowNear(at);
    setDraft(chart, [press.row, row]);
  }

  function up(event) {
    if (!press) return;
    const at = offset(event);
    const { row: start, moved } = press;
    press = null;
    canvas.releasePointerCapture?.(event.pointerId);
    setDraft(chart, null);
    if (moved) {
      const end = rowNear(at);
      onAdd([Math.min(start, end), Math.max(start, end)]);
      return;
    }
    const index = windows().findIndex(([a, b]) => start >= a && start <= b);
    if (index !== -1) onRemove(index);
  }

  /** Past the plot's edge while dragging: the first or last row. */
  function rowNear(at) {
    const area = chart.chartArea;
    const x = Math.max(area.left, Math.min(area.right, at.x));
    const y = Math.max(area.top, Math.min(area.bottom, at.y));
    return rowAt(chart, x, y);
  }

  function cancel() {
    if (!press) return;
    press = null;
    setDraft(chart, null);
  }

  canvas.addEventListener('pointerdown', down);
  canvas.addEventListener('pointermove', move);
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', cancel);

  return {
    get enabled() {
      return enabled;
    },
    setEnabled(on) {
      enabled = on;
      cancel();
      // The zoom plugin's drag-to-zoom would fight the drawing drag.
      chart.options.plugins.zoom.zoom.drag.enabled = !on;
      chart.update('none');
      canvas.classList.toggle('drawing', on);
    },
  };
}
