/**
 * The dashboard's own address as a link into it: `?sensor=<name>` selects a
 * sensor, and `&at=<epoch seconds>` shows that sensor around a past moment
 * (the alert e-mails link there). Read once at start; the parameters are taken
 * back out of the address bar (without a reload or a history entry) once they
 * no longer describe what the page shows.
 */

/** `{sensor, at, badAt}`: each null when absent; `badAt` is an `at` that is no epoch time. */
export function readLink(search = window.location.search) {
  const params = new URLSearchParams(search);
  const sensor = params.get('sensor')?.trim() || null;
  const text = params.get('at')?.trim() || null;
  const valid = text !== null && /^\d+(\.\d+)?$/.test(text);
  return { sensor, at: valid ? Number(text) : null, badAt: text !== null && !valid ? text : null };
}

/** Removes the parameters `names` from the address bar, if it has any of them. */
export function dropFromUrl(...names) {
  const url = new URL(window.location.href);
  if (!names.some((name) => url.searchParams.has(name))) return;
  for (const name of names) url.searchParams.delete(name);
  window.history.replaceState(window.history.state, '', url);
}
