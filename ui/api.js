// Every call the page makes to the service. With --token-file the service answers 401: the page
// then asks for the token (token.js), keeps it for this tab and sends it as a bearer token.

import { askForToken } from './token.js';

const tokenKey = 'switchboard.token';

export class APIError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'http_error';
  }
}

export function storedToken() {
  return sessionStorage.getItem(tokenKey);
}

/** fetch with the tab's token; a 401 asks for the token and tries again with it. */
export async function request(path, { signal, headers = {}, method = 'GET' } = {}) {
  for (;;) {
    const token = storedToken();
    const sent = { ...headers };
    if (token) sent.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method, headers: sent, signal, cache: 'no-store', credentials: 'omit' });
    if (response.status !== 401) return response;
    await response.body?.cancel();
    // Another call may have been given a new token while this one was under way.
    if (storedToken() !== token) continue;
    const entered = await askForToken(token ? 'The service refused that token.' : null, signal);
    sessionStorage.setItem(tokenKey, entered);
  }
}

/** The JSON answer, or an APIError with the service's own code and message. */
export async function getJSON(path, options) {
  const response = await request(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new APIError(response.status, body?.error?.code, body?.error?.message);
  }
  return body;
}

/** A path with its query, leaving out empty values. */
export function withQuery(path, parameters) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
