/**
 * The little arithmetic of the Evaluate page: the z-score detector's anomaly
 * score ↔ |z|, and row lookups by timestamp. Pure functions, no DOM.
 */

/**
 * erfc(x) for x ≥ 0, with a relative error below 1.2e-7 (Numerical Recipes'
 * Chebyshev fit): relative, so the far tail (scores like 0.9999999) stays exact.
 */
function erfc(x) {
  const t = 1 / (1 + 0.5 * x);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * Math.exp(-x * x + poly);
}

/**
 * The |z| whose z-score detector score is `score`: score = erf(|z|/√2), so
 * |z| = √2·erfinv(score). Solved by bisection on erfc (decreasing), which
 * needs no special cases near 1. Score 1 is reached only at infinity.
 */
export function zFromScore(score) {
  if (!(score > 0)) return 0;
  if (score >= 1) return Infinity;
  const tail = 1 - score;
  let low = 0;
  let high = 40; // erfc(40) underflows to 0: beyond any score below 1
  for (let i = 0; i < 80; i += 1) {
    const mid = (low + high) / 2;
    if (erfc(mid) > tail) low = mid;
    else high = mid;
  }
  return Math.SQRT2 * (low + high) / 2;
}

/** The first 19 characters (`YYYY-MM-DD HH:MM:SS`): the server matches windows to rows the same way. */
export function secondOf(timestamp) {
  return String(timestamp).trim().slice(0, 19);
}

/**
 * Row lookup for a series: the row of a timestamp (exact to the second), or
 * else the first row at or after it (ISO timestamps sort as text).
 */
export function rowFinder(timestamps) {
  const exact = new Map();
  const seconds = timestamps.map(secondOf);
  seconds.forEach((ts, row) => {
    if (!exact.has(ts)) exact.set(ts, row);
  });
  return (timestamp) => {
    const key = secondOf(timestamp);
    if (exact.has(key)) return exact.get(key);
    let low = 0;
    let high = seconds.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (seconds[mid] < key) low = mid + 1;
      else high = mid;
    }
    return Math.min(low, seconds.length - 1);
  };
}

/**
 * Windows as sorted, non-overlapping [firstRow, lastRow] pairs: NAB windows
 * never overlap, so a drawn window that touches others merges with them.
 */
export function mergeWindows(rows) {
  const sorted = rows.map(([a, b]) => [Math.min(a, b), Math.max(a, b)]).sort((p, q) => p[0] - q[0]);
  const out = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
