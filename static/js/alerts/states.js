/**
 * Normal or HIGH USAGE, for the line and each sensor: a badge in the navbar
 * (the line), one on each overview card, a list with the thresholds in words,
 * and the recent state changes. Every badge carries a word and a mark, the
 * colour only helps; hovering one shows the thresholds and since when.
 */
import { formatNumber, formatPercent, formatWhen } from '../lib/format.js';
import { el } from '../lib/dom.js';

const STATE_TEXT = { normal: 'normal', high_usage: '▲ HIGH USAGE' };
/** The newest changes listed; the server may send more (it dates each state from them). */
const SHOWN_CHANGES = 20;

export function stateText(state) {
  return STATE_TEXT[state] ?? state;
}

/** What decides the state, and since when it holds, in one sentence. */
export function stateTitle(status) {
  const ratio = (r) => formatPercent(r, 1);
  const rule = `High usage when the anomaly ratio rises above ${ratio(status.high_usage_enter)}; back to normal once `
    + `it stays below ${ratio(status.high_usage_exit)} for ${formatNumber(status.high_usage_hold_s, 0)} s.`;
  // No `since`: no change among the recent ones the server looked at, which says nothing about how long.
  if (status.since === null || status.since === undefined) return rule;
  return `${rule} ${status.state === 'high_usage' ? 'High usage' : 'Normal'} since ${formatWhen(status.since)}.`;
}

function paintBadge(badge, status, prefix = '') {
  badge.textContent = `${prefix}${stateText(status.state)}`;
  badge.className = `${badge.dataset.baseClass} usage-${status.state}`;
  badge.title = stateTitle(status);
  badge.dataset.state = status.state;
  badge.hidden = false;
}

/**
 * `lineBadge` sits in the navbar; `overview` holds the sensor cards (their
 * `[data-usage-state]` badges, rebuilt whenever the cards are); `list` and
 * `timeline` are the panel's.
 */
export function createStates({ lineBadge, overview, list, timeline, noChanges }, { sensorLabel }) {
  lineBadge.dataset.baseClass = lineBadge.className;
  let shownTimeline = '';
  let shownList = '';

  function renderCards(sensors) {
    for (const card of overview.querySelectorAll('.sensor-card[data-sensor]')) {
      const badge = card.querySelector('[data-usage-state]');
      const status = sensors[card.dataset.sensor];
      if (!badge || !status) continue;
      badge.dataset.baseClass ??= badge.className;
      paintBadge(badge, status);
    }
  }

  function renderList(states) {
    const targets = [['line', states.line], ...Object.entries(states.sensors)];
    const key = JSON.stringify(targets);
    if (key === shownList) return;
    shownList = key;
    list.replaceChildren(...targets.map(([name, status]) => {
      const item = el('li', 'state-row');
      item.dataset.target = name;
      const badge = el('span', 'badge usage-badge');
      badge.dataset.baseClass = badge.className;
      paintBadge(badge, status);
      const since = status.since === null || status.since === undefined ? '' : ` since ${formatWhen(status.since)}`;
      const rule = el('span', 'state-rule small text-body-secondary',
        `enter > ${formatPercent(status.high_usage_enter, 1)} · exit < ${formatPercent(status.high_usage_exit, 1)}`
        + ` for ${formatNumber(status.high_usage_hold_s, 0)} s`);
      item.append(el('strong', 'state-target', name === 'line' ? 'Line' : sensorLabel(name)), badge,
        el('span', 'small text-nowrap', since), rule);
      return item;
    }));
  }

  function renderTimeline(changes) {
    const key = changes.map((c) => c.id).join(',');
    if (key === shownTimeline) return;
    shownTimeline = key;
    noChanges.hidden = changes.length > 0;
    timeline.replaceChildren(...changes.map((change) => {
      const item = el('li', `state-change to-${change.to}`);
      item.dataset.changeId = String(change.id);
      item.dataset.target = change.target;
      const head = el('span', 'd-block');
      head.append(
        el('time', 'text-body-secondary me-1', formatWhen(change.t)),
        el('strong', null, change.target === 'line' ? 'Line' : sensorLabel(change.target)),
        ` ${stateText(change.from)} → `,
        el('span', `fw-semibold usage-text-${change.to}`, stateText(change.to)),
      );
      item.append(head, el('span', 'd-block text-body-secondary', change.reason));
      return item;
    }));
  }

  return {
    /** An /api/states answer. */
    render(states) {
      paintBadge(lineBadge, states.line, 'Line: ');
      lineBadge.setAttribute('aria-label', `The line's state: ${stateText(states.line.state)}. ${stateTitle(states.line)}`);
      renderCards(states.sensors);
      renderList(states);
      renderTimeline(states.timeline.slice(0, SHOWN_CHANGES));
    },
  };
}
