// Asking a question: the composer, the question and a provisional answer shown
// at once, the answer streamed in word by word (Server-Sent Events read from
// the fetch response), then the stored messages taking over the provisional
// elements, or a failure shown with its retry. One answer at a time.

import { showError } from './alerts.js';
import { api, ApiError, SessionEnded, readEvents } from './api.js';
import { ensureConversation, onLeave, touchConversation } from './conversations.js';
import { $ } from './dom.js';
import { t } from './i18n.js';
import {
  adopt, appendProvisional, claimWith, currentGeneration, forgetMessage, isCurrent, newMessageElement, onRetry,
  refreshHistory, rememberRetry, render, renderEmptyState, replaceShown, scrollToEnd, shownMessage, upsertMessage,
} from './messages.js';

/** The chat being streamed: { text, conversationId, userEl, assistantEl, userId, assistantId } */
let pending = null;
let chatAbort = null;

/** A message the server stored for the chat being streamed takes over its provisional element. */
function claimProvisional(message) {
  if (!pending || pending.conversationId !== message.conversation_id) return null;
  if (message.role === 'user' && !pending.userId && message.content === pending.text) {
    pending.userId = message.id;
    pending.userEl.dataset.messageId = message.id;
    return pending.userEl;
  }
  if (message.role === 'assistant' && pending.userId && message.reply_to === pending.userId && !pending.assistantId) {
    pending.assistantId = message.id;
    pending.assistantEl.dataset.messageId = message.id;
    return pending.assistantEl;
  }
  return null;
}

/** Another conversation opens: an answer streaming elsewhere is let go (the server still stores it; it shows when we come back). */
function leave(id) {
  if (chatAbort && pending && pending.conversationId !== id) chatAbort.abort();
  pending = null;
}

/** Logged out: the answer in flight is dropped, the composer emptied. */
export function resetChat() {
  if (chatAbort) chatAbort.abort();
  chatAbort = null;
  pending = null;
  $('chat-input').value = '';
}

export async function sendChat(rawText) {
  const text = rawText.trim();
  if (!text) return;
  if (pending) return; // one answer at a time
  const conversationId = await ensureConversation();
  const generation = currentGeneration();
  const now = new Date().toISOString();
  const provisional = (role) => ({
    id: '', conversation_id: conversationId, role, content: role === 'user' ? text : '', status: 'processing',
    stage: 'llm', error: null, attachments: [], document_text: null, created_at: now, updated_at: now,
  });
  const userEl = newMessageElement();
  const assistantEl = newMessageElement();
  render(userEl, provisional('user'));
  render(assistantEl, provisional('assistant'));
  delete userEl.dataset.messageId;
  delete assistantEl.dataset.messageId;
  appendProvisional(userEl, assistantEl);
  const mine = { text, conversationId, userEl, assistantEl, userId: null, assistantId: null };
  pending = mine;
  renderEmptyState();
  scrollToEnd();
  setComposerBusy(true);

  const abort = new AbortController();
  chatAbort = abort;
  let finished = false;
  let streamed = '';
  try {
    const response = await api('/v1/chat', {
      method: 'POST',
      json: { conversation_id: conversationId, text },
      headers: { Accept: 'text/event-stream' },
      signal: abort.signal,
      raw: true,
    });
    await readEvents(response, (name, data) => {
      if (!isCurrent(generation) || pending !== mine) return;
      const payload = JSON.parse(data);
      if (name === 'delta') {
        streamed += payload.text || '';
        assistantEl.dataset.streamed = streamed;
        const shown = mine.assistantId && shownMessage(mine.assistantId);
        if (!shown || shown.status === 'processing') {
          const textNode = assistantEl.querySelector('.message-text');
          textNode.hidden = false;
          textNode.classList.remove('thinking');
          textNode.textContent = streamed;
        }
        scrollToEnd();
      } else if (name === 'done') {
        finished = true;
        settle(mine, payload.user_message, payload.assistant_message);
      } else if (name === 'error') {
        finished = true;
        const message = (payload.error && payload.error.message) || t('genericError');
        failPending(mine, message);
        showError(message);
      }
    });
    if (!finished && isCurrent(generation) && pending === mine) {
      // The stream ended without an outcome: the history has the truth.
      failPending(mine, null);
      await refreshHistory(generation);
    }
  } catch (error) {
    if (error.name === 'AbortError' || error instanceof SessionEnded) return;
    if (isCurrent(generation) && pending === mine) {
      failPending(mine, error instanceof ApiError ? error.message : t('networkError'));
      showError(error instanceof ApiError ? error : t('networkError'));
      refreshHistory(generation).catch(() => {});
    }
  } finally {
    if (pending === mine) pending = null;
    if (chatAbort === abort) chatAbort = null;
    setComposerBusy(false);
  }
  if (isCurrent(generation)) touchConversation();
}

/** The stored messages replace the provisional ones. */
function settle(mine, userMessage, assistantMessage) {
  adopt(mine.userEl, userMessage);
  adopt(mine.assistantEl, assistantMessage);
  pending = null;
  upsertMessage(userMessage);
  upsertMessage(assistantMessage);
}

/** The chat failed: the assistant placeholder goes; the user message shows the failure (the server stores it failed). */
function failPending(mine, message) {
  mine.assistantEl.remove();
  if (mine.assistantId) forgetMessage(mine.assistantId);
  if (mine.userId) {
    rememberRetry(mine.userId, { kind: 'chat', text: mine.text });
    const shown = shownMessage(mine.userId);
    if (shown && message) {
      replaceShown(mine.userEl, { ...shown, status: 'failed', stage: null, error: shown.error || message });
    }
  } else if (message) {
    // Never stored (e.g. the request was refused): show it failed, retry resends it.
    const failed = {
      id: '', conversation_id: mine.conversationId, role: 'user', content: mine.text, status: 'failed',
      stage: null, error: message, attachments: [], document_text: null,
    };
    render(mine.userEl, failed);
    mine.userEl.dataset.retryText = mine.text;
    mine.userEl.querySelector('.message-retry').hidden = false;
  } else {
    mine.userEl.remove();
  }
  pending = null;
  renderEmptyState();
}

function setComposerBusy(busy) {
  $('chat-send').disabled = busy;
  $('composer').classList.toggle('busy', busy);
}

export function wireChat() {
  claimWith(claimProvisional);
  onLeave(leave);
  onRetry('chat', (plan) => sendChat(plan.text));

  const input = $('chat-input');
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || pending) return;
    input.value = '';
    sendChat(text).catch((error) => {
      input.value = input.value || text;
      showError(error);
    });
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
}
