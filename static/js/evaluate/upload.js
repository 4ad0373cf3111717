/**
 * A preview of an uploaded series and its label windows before they are sent,
 * so windows can be drawn on it. Lenient on purpose: the server validates the
 * files and names what is wrong; a row that does not read here is just a gap.
 */

/** `timestamp,value` text (a header line is skipped) → {timestamps, values}. */
export function parseSeries(text) {
  const timestamps = [];
  const values = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (!line.trim()) return;
    const [rawTime = '', rawValue = ''] = line.split(',');
    const value = Number(rawValue.trim());
    if (index === 0 && rawValue.trim() !== '' && !Number.isFinite(value)) return; // the header
    timestamps.push(rawTime.trim().replace(/^"|"$/g, ''));
    values.push(rawValue.trim() !== '' && Number.isFinite(value) ? value : null);
  });
  return { timestamps, values };
}

/**
 * The windows of a labels file for the series `fileName`: a plain list of
 * [start, end], or NAB's {"category/file.csv": [...]} (the entry whose name
 * ends with the file's, or the only one). Null when it cannot tell.
 */
export function windowsFromLabels(labels, fileName) {
  if (Array.isArray(labels)) return labels;
  if (!labels || typeof labels !== 'object') return null;
  const entries = Object.entries(labels);
  const match = entries.find(([name]) => name === fileName || name.endsWith(`/${fileName}`));
  if (match) return match[1];
  return entries.length === 1 ? entries[0][1] : null;
}
