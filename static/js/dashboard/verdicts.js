/**
 * One reading's verdicts as a table: each detector that judged it (the
 * z-score, the LSTM when it scored, each extra detector) — flagged, let pass
 * or warming up — with its score and why, the one whose verdict counts
 * marked; above it, the z-score's excursion alarm in words. Filled from the
 * API point itself, so it explains what was stored.
 */
import { LSTM, Z_SCORE, describeSplit } from './detector_votes.js';
import {
  explainLstm, explainZ, explainZAlarm, formatClock, formatError, formatNumber, formatValue,
} from '../lib/format.js';

const STATES = {
  true: { text: '⚠ flagged', className: 'verdict-flagged' },
  false: { text: '✓ normal', className: 'verdict-normal' },
  null: { text: '… warming up', className: 'verdict-warming' },
};

export function createVerdicts(ui) {
  // The selected sensor's LSTM rule (to explain its threshold) and unit.
  let settings = { rule: {}, unit: '' };
  let point = null;

  function rowsOf(p) {
    const rows = [{
      key: 'zscore', label: Z_SCORE, anomaly: p.z === null ? null : Boolean(p.zscore_anomaly),
      score: p.z === null ? '–' : `z ${formatNumber(p.z, 2)}`,
      why: p.z === null ? 'learning the model (not enough readings yet)' : explainZ(p),
      alarm: p.z_alarm ? explainZAlarm(p) : null,
    }];
    if (p.lstm_score !== null && p.lstm_score !== undefined) {
      rows.push({
        key: 'lstm', label: LSTM, anomaly: p.lstm_anomaly ?? null, score: `error ${formatError(p.lstm_score)}`,
        why: explainLstm({ score: p.lstm_score, threshold: p.lstm_threshold, ...settings.rule }),
      });
    }
    for (const [name, v] of Object.entries(p.detectors ?? {})) {
      rows.push({
        key: name, label: name, anomaly: v.anomaly ?? null,
        score: v.score === null || v.score === undefined ? '–' : `score ${formatNumber(v.score, 2)}`,
        why: v.why ?? 'warming up (not enough readings yet)',
      });
    }
    return rows;
  }

  function row({ key, label, anomaly, score, why, alarm }, counts) {
    const tr = document.createElement('tr');
    tr.dataset.detector = key;
    if (counts) {
      tr.dataset.counts = 'true';
      tr.className = 'verdict-counts';
    }
    const name = document.createElement('th');
    name.scope = 'row';
    name.className = 'font-monospace';
    name.textContent = label;
    if (counts) {
      const badge = document.createElement('span');
      badge.className = 'badge text-bg-secondary ms-1 font-sans-serif';
      badge.textContent = '★ counts';
      name.append(badge);
    }
    if (alarm) {
      const badge = document.createElement('span');
      badge.className = 'badge z-alarm-badge ms-1 font-sans-serif';
      badge.textContent = '▼ alarm';
      badge.title = alarm;
      name.append(badge);
    }
    const state = STATES[String(anomaly)];
    const verdict = cell(state.text, state.className);
    tr.append(name, verdict, cell(score, 'text-nowrap'), cell(why, 'verdict-why small font-monospace'));
    return tr;
  }

  function render() {
    ui.box.hidden = point === null;
    ui.hint.hidden = point !== null;
    if (point === null) {
      ui.rows.replaceChildren();
      return;
    }
    const p = point;
    // Whose verdicts counted, as the server decided when the reading was judged.
    const counts = new Set(p.counted ?? []);
    ui.caption.textContent = `${formatClock(p.t)} · ${formatValue(p.value, settings.unit, p.std)} · verdict: `
      + `${p.anomaly ? '⚠ anomaly' : '✓ normal'} (★ the detector that counts)`;
    ui.split.hidden = !p.disagree;
    ui.split.textContent = p.disagree ? `Detectors disagree: ${describeSplit(p)}.` : '';
    // A line of its own, not in the z-score's "why": that cell keeps the arithmetic alone.
    const alarm = explainZAlarm(p);
    ui.alarm.hidden = alarm === null;
    ui.alarm.textContent = alarm === null ? '' : `${p.z_alarm ? '▼ ' : ''}${Z_SCORE} ${alarm}.`;
    ui.rows.replaceChildren(...rowsOf(p).map((r) => row(r, counts.has(r.key))));
  }

  return {
    /** The selected sensor's settings from a /get_control answer. */
    apply(control, sensor) {
      const effective = control.sensors?.[sensor]?.effective;
      if (!effective) return;
      const rule = { percentile: effective.lstm_percentile, ratio: effective.lstm_ratio };
      settings = { ...settings, rule };
    },

    /** The unit the selected sensor's values are in. */
    setUnit(unit) {
      settings.unit = unit || '';
    },

    /** Explains `p` (an API point), or hides the table (null). */
    show(p) {
      point = p;
      render();
    },
  };
}

function cell(text, className) {
  const td = document.createElement('td');
  td.className = className;
  td.textContent = text;
  return td;
}
