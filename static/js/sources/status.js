/**
 * A pull source's health in words: its state (running, backing off, stopped),
 * its last success and last error with how long ago, its next try, its lag and
 * the readings it has delivered. Pure functions of the API's `status` object.
 */
import { formatNumber, formatWhen } from '../lib/format.js';

const STATE_WORDS = { running: 'running', backing_off: 'backing off', stopped: 'stopped' };

/** The state as a word: backing_off → "backing off"; a state this page does not know, as sent. */
export function stateWord(state) {
  return STATE_WORDS[state] ?? String(state ?? 'unknown').replace(/_/g, ' ');
}

/** Seconds between now and `t` (epoch s) as "5 s", "3 min", "2 h", "4 d". */
export function formatSpan(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "12 s ago (14:03:22)"; null as "never". */
export function formatAgo(t, now = Date.now() / 1000, never = 'never') {
  if (t === null || t === undefined) return never;
  return `${formatSpan(now - t)} ago (${formatWhen(t)})`;
}

/** [label, text, key] rows for the status list of a source. */
export function statusRows(status, now = Date.now() / 1000) {
  const nextTry = status.next_try_at === null || status.next_try_at === undefined ? '–'
    : status.next_try_at > now ? `in ${formatSpan(status.next_try_at - now)} (${formatWhen(status.next_try_at)})` : 'now';
  const lastError = status.last_error
    ? `${status.last_error} — ${formatAgo(status.last_error_at, now, 'at an unknown time')}` : 'none';
  const lag = status.lag_s === null || status.lag_s === undefined ? '–'
    : `${formatNumber(status.lag_s, status.lag_s < 10 ? 2 : 0)} s`;
  return [
    ['State', stateWord(status.state), 'state'],
    ['Last success', formatAgo(status.last_success_at, now), 'last_success'],
    ['Last error', lastError, 'last_error'],
    ['Next try', nextTry, 'next_try'],
    ['Lag', lag, 'lag'],
    ['Readings so far', (status.readings_total ?? 0).toLocaleString(), 'readings'],
  ];
}
