/**
 * The scores table: one row per detector, side by side. Every number cell
 * keeps the server's value in `data-value`, so what is shown can be checked
 * against what was computed.
 */
import { detectorStyle } from './chart.js';
import { formatNumber } from '../lib/format.js';

/** Each column: its field name, and how it reads from one detector's score answer. */
const COLUMNS = [
  { field: 'threshold', value: (r) => r.threshold, text: (v) => formatNumber(v, 4) },
  { field: 'standard', value: (r) => r.scores?.standard, text: (v) => formatNumber(v, 1) },
  { field: 'reward_low_FP_rate', value: (r) => r.scores?.reward_low_FP_rate, text: (v) => formatNumber(v, 1) },
  { field: 'reward_low_FN_rate', value: (r) => r.scores?.reward_low_FN_rate, text: (v) => formatNumber(v, 1) },
  { field: 'precision', value: (r) => r.precision, text: (v) => formatNumber(v, 2) },
  { field: 'recall', value: (r) => r.recall, text: (v) => formatNumber(v, 2) },
  { field: 'f1', value: (r) => r.f1, text: (v) => formatNumber(v, 2) },
  {
    field: 'windows_detected', value: (r) => r.windows_detected,
    text: (v, r) => (r.windows ? `${v ?? 0} of ${r.windows}` : '–'),
  },
  { field: 'false_positives', value: (r) => r.false_positives, text: (v) => (v === null || v === undefined ? '–' : String(v)) },
  { field: 'mean_delay_s', value: (r) => r.mean_delay_s, text: (v) => formatDelay(v) },
];

/** Seconds as the unit a person would say: 45 s, 12 min, 3.5 h, 2.1 d. */
export function formatDelay(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${formatNumber(seconds, 0)} s`;
  if (seconds < 3600) return `${formatNumber(seconds / 60, 0)} min`;
  if (seconds < 86400) return `${formatNumber(seconds / 3600, 1)} h`;
  return `${formatNumber(seconds / 86400, 1)} d`;
}

export function createScoreTable(tbody) {
  function nameCell(detector, theme, order, extra = '') {
    const th = document.createElement('th');
    th.scope = 'row';
    const style = detectorStyle(detector.id, theme, order);
    const symbol = document.createElement('span');
    symbol.className = 'detector-symbol';
    symbol.setAttribute('aria-hidden', 'true');
    symbol.style.color = style.colour;
    symbol.textContent = style.symbol;
    th.append(symbol, ` ${detector.label}${extra}`);
    return th;
  }

  return {
    /**
     * `detectors` [{id, label}] in order; `results` the score answer's `detectors`;
     * `errors` {id: message} for detectors that failed to run.
     */
    render(detectors, results, errors, theme) {
      tbody.replaceChildren(...detectors.map((detector, order) => {
        const tr = document.createElement('tr');
        tr.dataset.detector = detector.id;
        const result = results[detector.id];
        if (!result) {
          tr.append(nameCell(detector, theme, order));
          const td = document.createElement('td');
          td.colSpan = COLUMNS.length;
          td.className = 'text-danger small';
          td.dataset.field = 'error';
          td.textContent = errors[detector.id] ? `Did not run: ${errors[detector.id]}` : 'No scores.';
          tr.append(td);
          return tr;
        }
        const truncated = result.detections_truncated ? ' (first detections marked)' : '';
        tr.append(nameCell(detector, theme, order, truncated));
        for (const column of COLUMNS) {
          const td = document.createElement('td');
          const value = column.value(result);
          td.className = 'text-end';
          td.dataset.field = column.field;
          td.dataset.value = value === null || value === undefined ? '' : String(value);
          td.textContent = column.text(value, result);
          tr.append(td);
        }
        return tr;
      }));
    },
    clear() {
      tbody.replaceChildren();
    },
  };
}
