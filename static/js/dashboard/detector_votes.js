/**
 * Who judged a reading and how: the z-score, the LSTM (when it scored) and each
 * extra detector, as one list of votes. Pure functions, shared by the value
 * chart's disagreement marks and the verdict table, so both name the same
 * detectors the same way.
 */

export const Z_SCORE = 'z-score';
export const LSTM = 'LSTM';

/**
 * Every detector's vote on an API point, in a fixed order: `anomaly` is true
 * (flagged), false (let it pass) or null (still warming up).
 */
export function votes(point) {
  const list = [{ key: 'zscore', label: Z_SCORE, anomaly: point.z === null ? null : Boolean(point.zscore_anomaly) }];
  if (point.lstm_score !== null && point.lstm_score !== undefined) {
    list.push({ key: 'lstm', label: LSTM, anomaly: point.lstm_anomaly ?? null });
  }
  for (const [name, verdict] of Object.entries(point.detectors ?? {})) {
    list.push({ key: name, label: name, anomaly: verdict.anomaly ?? null });
  }
  return list;
}

/**
 * "flagged by knn; not by z-score, robust_zscore": how the judging detectors split on a point (one the server
 * marked `disagree`), from their stored votes.
 */
export function describeSplit(point) {
  const judged = votes(point).filter((v) => v.anomaly !== null);
  const names = (flag) => judged.filter((v) => v.anomaly === flag).map((v) => v.label).join(', ') || 'none';
  return `flagged by ${names(true)}; not by ${names(false)}`;
}
