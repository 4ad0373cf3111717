/**
 * The recent anomalies of the whole line, newest first, each explained with
 * its numbers, a ▼ badge on those that raised the z-score's excursion alarm;
 * choosing one selects its sensor.
 */
import { explainLstm, explainZ, explainZAlarm, formatClock, formatNumber, formatValue } from '../lib/format.js';

export function createAnomalyList(list, { onSelect }) {
  let shownNewest = null;
  return {
    render(anomalies) {
      const newest = anomalies.length ? anomalies[0].id : null;
      if (newest === shownNewest && list.children.length) return;
      shownNewest = newest;
      if (!anomalies.length) {
        const empty = document.createElement('li');
        empty.className = 'list-group-item text-body-secondary';
        empty.textContent = 'No anomaly yet.';
        list.replaceChildren(empty);
        return;
      }
      list.replaceChildren(...anomalies.map((a) => item(a, onSelect)));
    },
  };
}

function item(anomaly, onSelect) {
  const li = document.createElement('li');
  li.className = 'list-group-item p-0';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'anomaly-item list-group-item-action text-start w-100';
  button.dataset.sensor = anomaly.sensor;
  const head = document.createElement('span');
  head.className = 'd-flex justify-content-between gap-2';
  const what = document.createElement('strong');
  what.textContent = `⚠ ${anomaly.label}: ${formatValue(anomaly.value, anomaly.unit, anomaly.std)}`;
  if (anomaly.z_alarm) what.append(alarmBadge(anomaly));
  const when = document.createElement('span');
  when.className = 'text-body-secondary';
  when.textContent = formatClock(anomaly.t);
  head.append(what, when);
  const why = document.createElement('span');
  why.className = 'd-block small font-monospace';
  why.textContent = explainFlag(anomaly);
  button.append(head, why);
  button.addEventListener('click', () => onSelect(anomaly.sensor));
  li.append(button);
  return li;
}

/** "▼ z-score alarm", its reason in words on hover: most out-of-band readings are routine, this one was news. */
function alarmBadge(anomaly) {
  const badge = document.createElement('span');
  badge.className = 'badge z-alarm-badge ms-2 fw-normal';
  badge.dataset.zAlarm = anomaly.z_alarm_reason ?? '';
  badge.textContent = '▼ z-score alarm';
  badge.title = `z-score ${explainZAlarm(anomaly)}`;
  return badge;
}

/**
 * The numbers of whichever detectors flagged the reading: the z-score's, the
 * LSTM's (its verdict counts under verdict_source lstm or either), and each
 * chosen detector's own why.
 */
function explainFlag(anomaly) {
  const { z, threshold } = anomaly;
  const reasons = [];
  if (z !== null && Math.abs(z) > threshold) reasons.push(explainZ(anomaly));
  if (anomaly.lstm_anomaly) {
    reasons.push(`LSTM: ${explainLstm({ score: anomaly.lstm_score, threshold: anomaly.lstm_threshold })}`);
  }
  for (const [name, verdict] of Object.entries(anomaly.detectors ?? {})) {
    if (verdict.anomaly) reasons.push(`${name}: ${verdict.why}`);
  }
  if (reasons.length) return reasons.join(' · ');
  const zscore = z === null ? 'the z-score is still learning' : `z = ${formatNumber(z, 2)} is within ±${formatNumber(threshold, 1)}`;
  // Neither flag: the verdict came from a detector chosen as the verdict source (the verdict table says which).
  return `another detector's flag (${zscore})`;
}
