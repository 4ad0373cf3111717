/**
 * The audit log panel: the newest control and settings changes, refreshed every few seconds
 * through the shared poller (no overlapping requests, none while the tab is hidden).
 * Each change reads "scope: key before → after", so a plant engineer sees at a glance who moved what.
 */
import { getJSON } from '../lib/api.js';
import { formatMoment } from '../lib/format.js';
import { createPoller } from '../lib/poller.js';

const REFRESH_MS = 10_000;

/** "line: z_threshold 3 → 3.5" per changed key; a change without a before shows its new values. */
export function describeChange(before, after) {
  if (!after) return '–';
  if (!before) return JSON.stringify(after);
  const parts = [];
  for (const [scope, values] of Object.entries(after)) {
    for (const [key, value] of Object.entries(values)) {
      const old = before?.[scope]?.[key];
      parts.push(`${scope}: ${key} ${old ?? '(default)'} → ${value ?? '(default)'}`);
    }
  }
  return parts.join('; ');
}

function row(entry) {
  const tr = document.createElement('tr');
  const cells = [formatMoment(entry.t), `${entry.who} (${entry.role})`,
    entry.action.replace(/^api\./, ''), describeChange(entry.before, entry.after)];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

export function createAuditLog(section) {
  const rows = section.querySelector('#audit-rows');
  const status = section.querySelector('#audit-status');
  async function refresh() {
    const { entries } = await getJSON(section.dataset.auditUrl, { limit: 20 });
    rows.replaceChildren(...entries.map(row));
    status.textContent = entries.length ? '' : 'No changes recorded yet.';
  }
  // A failed refresh says so and keeps the rows it had; the next try comes after REFRESH_MS, as before.
  const poller = createPoller(refresh, {
    interval: REFRESH_MS,
    maxBackoff: REFRESH_MS,
    onError: (error) => {
      status.textContent = `Audit log unavailable: ${error.message}`;
    },
  });
  return {
    start() {
      poller.start();
    },
  };
}
