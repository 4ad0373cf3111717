/**
 * How numbers, times and verdicts read on screen. Pure functions, shared by
 * the charts, the overview and the lists, so one reading looks the same
 * everywhere.
 */

const MINUS = '\u2212'; // a real minus sign: a hyphen is too short to read from afar

const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** Epoch seconds as HH:MM:SS in the viewer's local time. */
export function formatClock(seconds) {
  return clock.format(new Date(seconds * 1000));
}

/** `value` with `digits` decimals and a true minus sign. */
export function formatNumber(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `${MINUS}${text}` : text;
}

/** Fraction 0..1 as a percentage, e.g. 0.0027 → "0.27 %". */
export function formatPercent(fraction, digits = 2) {
  return `${formatNumber(fraction * 100, digits)} %`;
}

/**
 * Decimals that show a sensor's noise: one more than the std's first digit
 * (std 3.1 → 1 decimal, 0.12 → 2), so the z arithmetic reads correctly.
 */
export function decimalsFor(std) {
  if (!(std > 0)) return 2;
  return Math.min(6, Math.max(0, 1 - Math.floor(Math.log10(std))));
}

/** A reading with its unit in the precision its noise deserves. */
export function formatValue(value, unit, std) {
  const text = formatNumber(value, decimalsFor(std));
  return unit ? `${text} ${unit}` : text;
}

/**
 * Why the detector flagged a reading (or let it pass), with its own numbers:
 * "z = (71.3 − 60.2) / 3.1 = 3.58 > 3.0". A model with zero spread flags any
 * change, which a division cannot show, so it gets a sentence instead.
 */
export function explainZ({ value, mean, std, z, threshold }) {
  const digits = decimalsFor(std);
  const limit = formatNumber(threshold, 1);
  if (!(std > 0)) {
    return `std = 0 (constant model): x = ${formatNumber(value, 4)} ≠ mean ${formatNumber(mean, 4)}`;
  }
  // A reading the z-score let pass reads as well: "… = 0.41, within ±3.0".
  const comparison = Math.abs(z) <= threshold ? `, within ±${limit}` : (z < 0 ? ` < ${MINUS}${limit}` : ` > ${limit}`);
  return `z = (${formatNumber(value, digits)} ${MINUS} ${formatNumber(mean, digits)}) / `
    + `${formatNumber(std, digits)} = ${formatNumber(z, 2)}${comparison}`;
}

/**
 * A likelihood with the nines that matter: 0.87, 0.999, 0.999998 (never a
 * rounded 1.00, which would hide how unusual the reading was).
 */
export function formatLikelihood(likelihood) {
  if (likelihood === null || likelihood === undefined || !Number.isFinite(likelihood)) return '–';
  // Six decimals at most, as the alarm e-mail writes it (alert_message.py): 0.999999, never 1.
  const shown = Math.min(likelihood, 0.999999);
  const digits = Math.min(6, Math.max(2, Math.floor(-Math.log10(1 - shown)) + 2));
  return formatNumber(shown, digits).replace(/(\.\d\d\d*?)0+$/, '$1');
}

/** The likelihood's "held" value: an excursion that already alarmed (its red-once rule, zscore_alarm.py). */
const HELD_LIKELIHOOD = 0.999;
/** At or above this a run of z-scores is unusual for the sensor (NAB's "red"). */
const UNUSUAL_LIKELIHOOD = 0.99999;

const ALARM_WHY = {
  unusual: (p) => `unusual for this sensor (likelihood ${formatLikelihood(p.z_likelihood)})`,
  extreme: () => 'a new extreme (beyond the range seen so far)',
};

/**
 * The z-score's excursion alarm on a reading, in words: why it alarmed, or
 * why a reading out of band did not; null when there is nothing to say (in
 * band, still learning, or stored before the alarm existed).
 */
export function explainZAlarm(p) {
  if (p.z === null || p.z === undefined || p.z_alarm === null || p.z_alarm === undefined) return null;
  if (p.z_alarm) return `alarm: ${ALARM_WHY[p.z_alarm_reason]?.(p) ?? p.z_alarm_reason ?? 'raised'}`;
  if (!(p.zscore_anomaly ?? p.anomaly)) return null;
  const likelihood = p.z_likelihood;
  if (likelihood === null || likelihood === undefined) {
    // The alarm's first 300 verdicts: it does not know the sensor yet, so only a new extreme alarms.
    return 'out of band, no alarm: not a new extreme (the alarm learns this sensor\'s usual z-scores '
      + 'during its first 300 verdicts; until then only a new extreme alarms)';
  }
  const held = Math.abs(likelihood - HELD_LIKELIHOOD) < 1e-12 || likelihood >= UNUSUAL_LIKELIHOOD;
  return held ? 'out of band, no alarm: this excursion already alarmed'
    : `out of band, no alarm: routine for this sensor (likelihood ${formatLikelihood(likelihood)})`;
}

/** A reconstruction error: two decimals, more for small ones (0.82, 0.041). */
export function formatError(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const size = Math.abs(value) > 0 ? Math.floor(Math.log10(Math.abs(value))) : 0;
  return formatNumber(value, Math.min(6, Math.max(2, 1 - size)));
}

/** 99 → "99th percentile", 52 → "52nd percentile", 99.5 → "99.5th percentile". */
export function formatPercentile(percentile) {
  const p = Math.round(percentile * 10) / 10;
  if (!Number.isInteger(p)) return `${formatNumber(p, 1)}th percentile`;
  const tens = p % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[p % 10] ?? 'th');
  return `${p}${suffix} percentile`;
}

/**
 * Why the LSTM flagged a reading (or let it pass): "error 0.82 > threshold
 * 0.41 (99th percentile × 2.0)"; the rule in brackets when it is known.
 */
export function explainLstm({ score, threshold, percentile = null, ratio = null }) {
  const rule = percentile === null || percentile === undefined ? ''
    : ` (${formatPercentile(percentile)}${ratio === null || ratio === undefined ? '' : ` × ${formatRatio(ratio)}`})`;
  const comparison = score <= threshold ? '≤' : '>'; // ≤: a window the LSTM let pass
  return `error ${formatError(score)} ${comparison} threshold ${formatError(threshold)}${rule}`;
}

/** "99th percentile of held-out errors × 2.0": the LSTM's threshold rule in words. */
export function formatRule({ percentile, ratio }) {
  return `${formatPercentile(percentile)} of held-out errors × ${formatRatio(ratio)}`;
}

/** The LSTM threshold's multiplier: 2.0, 0.25. */
export function formatRatio(ratio) {
  return formatNumber(ratio, Math.abs(ratio) < 0.1 ? 2 : 1);
}

const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** An instant that may lie days back: the clock today, else the date as well. */
export function formatWhen(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const date = new Date(seconds * 1000);
  const today = new Date().toDateString() === date.toDateString();
  return today ? formatClock(seconds) : `${day.format(date)} ${formatClock(seconds)}`;
}

const dayOfYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** A moment that a link points at, always dated (it may be opened days later): "14:03:05 on 26 Nov". */
export function formatMoment(seconds) {
  const date = new Date(seconds * 1000);
  const thisYear = date.getFullYear() === new Date().getFullYear();
  return `${formatClock(seconds)} on ${(thisYear ? day : dayOfYear).format(date)}`;
}

const SCENARIO_NAMES = {
  spike: 'spike', level_shift: 'level shift', drift: 'drift', noise_burst: 'noise burst', stuck: 'stuck',
};

/** A scenario kind as words, e.g. level_shift → "level shift". */
export function scenarioName(kind) {
  return SCENARIO_NAMES[kind] ?? kind;
}

/** Seconds as "1.5 s"; null (nothing caught yet) as a dash. */
export function formatSeconds(seconds) {
  return seconds === null || seconds === undefined ? '–' : `${formatNumber(seconds, 1)} s`;
}
