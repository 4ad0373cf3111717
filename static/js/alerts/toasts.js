/**
 * A toast for each new alarm: sensor, rule, reason and time, or that it was
 * suppressed and why. Bootstrap's toast markup and CSS, shown and hidden here
 * (the page loads no Bootstrap JS). A wall screen runs for weeks: at most
 * MAX_SHOWN toasts stay on screen, and each hides by itself (not while the
 * pointer rests on it); the alarm list keeps every alarm.
 */
import { formatClock } from '../lib/format.js';
import { button, el, readable } from '../lib/dom.js';
import { describeRule, targetLabel } from './list.js';

const MAX_SHOWN = 4;
const SHOW_MS = { alarm: 60_000, suppressed: 15_000 };

export function createToasts(container, { sensorLabel, onOpen }) {
  function hide(toast) {
    clearTimeout(toast.timer);
    toast.classList.remove('show');
    toast.remove();
  }

  function autohide(toast, ms) {
    const arm = () => {
      clearTimeout(toast.timer);
      toast.timer = setTimeout(() => hide(toast), ms);
    };
    toast.addEventListener('mouseenter', () => clearTimeout(toast.timer));
    toast.addEventListener('mouseleave', arm);
    toast.addEventListener('focusin', () => clearTimeout(toast.timer));
    arm();
  }

  function build(alarm) {
    const suppressed = Boolean(alarm.suppressed);
    const toast = el('div', `toast show alarm-toast ${suppressed ? 'toast-suppressed' : 'toast-alarm'}`);
    toast.dataset.alarmId = String(alarm.id);
    toast.dataset.sensor = alarm.sensor;
    toast.setAttribute('aria-atomic', 'true');

    const header = el('div', 'toast-header');
    const title = `${suppressed ? '◌ Suppressed' : '⚠ New alarm'}: ${targetLabel(alarm.sensor, sensorLabel)} · ${describeRule(alarm.rule)}`;
    const close = button('', 'btn-close', () => hide(toast));
    close.setAttribute('aria-label', 'Close');
    header.append(el('strong', 'me-auto', title), el('small', 'ms-2', formatClock(alarm.raised_at)), close);

    const body = el('div', 'toast-body');
    body.append(el('span', 'd-block', alarm.reason));
    if (suppressed) body.append(el('span', 'd-block fst-italic', `Suppressed, no e-mail: ${readable(alarm.suppressed)}`));
    const open = button('Show in the list', 'btn btn-link btn-sm p-0', () => {
      onOpen(alarm.id);
      hide(toast);
    });
    body.append(open);
    toast.append(header, body);
    return toast;
  }

  function trim() {
    const shown = container.querySelectorAll('.alarm-toast');
    for (let i = 0; i < shown.length - MAX_SHOWN; i += 1) hide(shown[i]);
  }

  return {
    /** New alarms, oldest first; in a flood only the newest few get a toast, with a count of the rest. */
    show(alarms) {
      if (!alarms.length) return;
      const extra = alarms.length - MAX_SHOWN;
      if (extra > 0) {
        const more = el('div', 'toast show alarm-toast toast-alarm');
        const body = el('div', 'toast-body d-flex justify-content-between gap-2');
        body.append(el('span', null, `⚠ ${extra} more new alarm${extra === 1 ? '' : 's'}: see the list.`),
          button('', 'btn-close', () => hide(more)));
        body.lastChild.setAttribute('aria-label', 'Close');
        more.append(body);
        container.append(more);
        autohide(more, SHOW_MS.alarm);
      }
      for (const alarm of alarms.slice(-MAX_SHOWN)) {
        const toast = build(alarm);
        container.append(toast);
        autohide(toast, alarm.suppressed ? SHOW_MS.suppressed : SHOW_MS.alarm);
      }
      trim();
    },
  };
}
