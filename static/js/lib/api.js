/**
 * The only module that talks HTTP, so that every caller sees the same
 * kind of error: an ApiError whose message is fit to show to a person.
 */

export class ApiError extends Error {
  constructor(message, status = 0, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/** GET `url` with `params` as a query string; null/undefined params are left out. */
export function getJSON(url, params = {}) {
  return request(withQuery(url, params), { method: 'GET' });
}

/** POST `body` as JSON to `url`. */
export function postJSON(url, body) {
  return request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** PUT `body` as JSON to `url`: the whole new state of the resource the URL names. */
export function putJSON(url, body) {
  return request(url, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** DELETE `url` (a resource the URL names); the answer's JSON, if any. */
export function deleteJSON(url) {
  return request(url, { method: 'DELETE' });
}

/** POST a multipart form (e.g. a file upload); the browser writes the boundary header itself. */
export function postForm(url, formData) {
  return request(url, { method: 'POST', body: formData });
}

function withQuery(url, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) query.append(key, String(value));
  }
  const text = query.toString();
  return text ? `${url}?${text}` : url;
}

/** The session's CSRF token from the page's meta tag: every change carries it. */
function csrfHeaders(method) {
  if (method === 'GET' || method === 'HEAD') return {};
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  return token ? { 'X-CSRF-Token': token } : {};
}

async function request(url, init) {
  init = { ...init, headers: { ...csrfHeaders(init.method), ...(init.headers || {}) } };
  let response;
  try {
    // no-store: the data is live, a cached answer would be a wrong one.
    response = await fetch(url, {
      ...init,
      cache: 'no-store',
      headers: { Accept: 'application/json', ...init.headers },
    });
  } catch {
    // Status 0 tells callers that the server is unreachable, not unhappy.
    throw new ApiError('Cannot reach the Linewatch server (network down or server stopped).');
  }
  const body = await readJSON(response);
  if (response.status === 401) {
    // The session ended (or accounts were just created): sign in, then come back here.
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }
  if (!response.ok) throw new ApiError(errorMessage(response, body), response.status, body);
  return body;
}

/** Error pages from proxies are not JSON; they must not hide the HTTP status. */
async function readJSON(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorMessage(response, body) {
  const detail = body?.message || body?.error;
  return detail ? `${detail} (HTTP ${response.status})` : `HTTP ${response.status} ${response.statusText}`.trim();
}
