// Talking to Scribe's API: JSON in and out, errors as ApiError, the bearer
// token on every call but the auth routes, and Server-Sent Events read from a
// fetch response (the streamed chat answer).

import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, message, code, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Thrown by a call whose 401 has just ended the session: nothing more to say to the user. */
export class SessionEnded extends Error {}

// The session module says where the token is and what a 401 does.
let currentToken = () => null;
let sessionExpired = () => {};

/** `token()` gives the bearer token (or null); `expired()` ends the session after a 401. */
export function authorizeWith({ token, expired }) {
  currentToken = token;
  sessionExpired = expired;
}

/** Calls the API; returns the parsed JSON (or null for 204). A 401 outside the auth routes ends the session. */
export async function api(path, { method = 'GET', json, form, headers = {}, signal, raw = false } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
  const token = currentToken();
  if (token && !path.startsWith('/v1/auth/')) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, t('networkError'), 'network');
  }
  if (response.status === 401 && !path.startsWith('/v1/auth/')) {
    sessionExpired();
    throw new SessionEnded();
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, say): say something general.
  }
  const error = body && body.error;
  return new ApiError(response.status, (error && error.message) || t('genericError'), error && error.code, error && error.field);
}

/** Reads Server-Sent Events from a fetch response, calling onEvent(name, data) for each. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const dispatch = (block) => {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) onEvent(name, data.join('\n'));
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) dispatch(buffer);
}
