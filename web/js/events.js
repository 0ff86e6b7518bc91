// The live stream of the conversation on screen (EventSource): messages
// created and updated arrive here and go to the list. A stream that fails
// (its short-lived token expired, the server restarted) is opened again with
// a new token after a growing delay, resuming from the last event id.

import { showError } from './alerts.js';
import { api, ApiError, SessionEnded } from './api.js';
import { isCurrent, refreshHistory, shownConversation, upsertMessage } from './messages.js';
import { isSignedIn } from './session.js';

let source = null;
let lastEventId = null;
let reconnectTimer = null;
let reconnectDelay = 1000;

export const isLive = () => source !== null;

/** Closes the stream and any reconnection pending; `{ fromStart: true }` also forgets where it was. */
export function closeEvents({ fromStart = false } = {}) {
  if (source) {
    source.close();
    source = null;
  }
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (fromStart) lastEventId = null;
}

/** Opens the stream of the conversation on screen, for as long as `generation` is current. */
export async function openEvents(generation) {
  const id = shownConversation();
  if (!id || !isSignedIn()) return;
  let token;
  try {
    ({ token } = await api(`/v1/conversations/${id}/events/token`, { method: 'POST' }));
  } catch (error) {
    if (error instanceof SessionEnded || !isCurrent(generation)) return;
    if (error instanceof ApiError && error.status === 404) return; // deleted meanwhile
    scheduleReconnect(generation);
    return;
  }
  if (!isCurrent(generation)) return;
  let url = `/v1/conversations/${id}/events?token=${encodeURIComponent(token)}`;
  if (lastEventId) url += `&last_event_id=${encodeURIComponent(lastEventId)}`;
  const stream = new EventSource(url);
  source = stream;
  const take = (event) => {
    if (!isCurrent(generation)) return;
    if (event.lastEventId) lastEventId = event.lastEventId;
  };
  stream.addEventListener('ready', (event) => {
    take(event);
    reconnectDelay = 1000;
    // Whatever happened before the stream began comes from the history.
    refreshHistory(generation).catch(showError);
  });
  const onMessage = (event) => {
    if (!isCurrent(generation)) return;
    take(event);
    reconnectDelay = 1000;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    upsertMessage(message);
  };
  stream.addEventListener('message.created', onMessage);
  stream.addEventListener('message.updated', onMessage);
  stream.addEventListener('error', () => {
    if (source !== stream) return;
    // The token may have expired: close, ask for a new one and resume from the last id.
    stream.close();
    source = null;
    scheduleReconnect(generation);
  });
}

function scheduleReconnect(generation) {
  if (!isCurrent(generation) || !isSignedIn()) return;
  clearTimeout(reconnectTimer);
  const delay = reconnectDelay;
  reconnectDelay = Math.min(delay * 2, 15000);
  reconnectTimer = setTimeout(() => {
    if (isCurrent(generation)) openEvents(generation);
  }, delay);
}
