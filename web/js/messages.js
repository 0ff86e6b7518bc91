// The message list of the conversation on screen: which conversation that is,
// which message each element shows, their order, the history fetched from the
// server, the empty-state line, and what each failed message's retry sends.
//
// The generation is bumped whenever the list starts showing something else
// (another conversation, none, a logout): async work started for an older
// generation sees it is stale and drops its result.

import { showError } from './alerts.js';
import { api } from './api.js';
import { $ } from './dom.js';
import { t } from './i18n.js';
import { createMessageElement, renderMessage } from './message-view.js';

let conversationId = null;
let generation = 0;
/** id → the message as last shown */
const shown = new Map();
/** id → its element */
const elements = new Map();
/** message id → { kind: 'chat', text } | { kind: 'file', file } — what a retry sends again (kept across conversations). */
const retries = new Map();
/** kind → (plan) => Promise: how a retry of that kind is sent (chat.js and files.js say). */
const retryHandlers = new Map();
/** (message) => element | null: lets a provisional element (chat.js) become the stored message's. */
let claimProvisional = () => null;

export const shownConversation = () => conversationId;
export const currentGeneration = () => generation;
export const isCurrent = (g) => g === generation;

/** From now on the list shows conversation `id` (or none), empty until its history arrives; returns the new generation. */
export function showConversation(id) {
  generation += 1;
  conversationId = id;
  clearMessages();
  return generation;
}

/** Logged out: nothing shown, nothing to retry. */
export function resetMessages() {
  showConversation(null);
  retries.clear();
}

export function onRetry(kind, handler) {
  retryHandlers.set(kind, handler);
}

export function claimWith(claim) {
  claimProvisional = claim;
}

export function rememberRetry(id, plan) {
  retries.set(id, plan);
}

export const shownMessage = (id) => shown.get(id);

function clearMessages() {
  shown.clear();
  elements.clear();
  $('message-list').replaceChildren();
}

/** Fetches the conversation's messages and shows them (unless the list has moved on meanwhile). */
export async function refreshHistory(g = generation) {
  const id = conversationId;
  if (!id) return;
  const page = await api(`/v1/conversations/${id}/messages?limit=200`);
  if (g !== generation || id !== conversationId) return;
  for (const message of page.items) upsertMessage(message);
  renderEmptyState();
}

function isNewer(message, last) {
  if (!last) return true;
  return !(message.updated_at && last.updated_at && message.updated_at < last.updated_at);
}

/** Shows a message, creating its element or updating it, in id order. */
export function upsertMessage(message) {
  if (!message || message.conversation_id !== conversationId) return;
  if (!isNewer(message, shown.get(message.id))) return;
  let node = elements.get(message.id) || claimProvisional(message);
  if (!node) {
    node = newMessageElement();
    node.dataset.messageId = message.id;
    placeMessage(node, message.id);
  }
  elements.set(message.id, node);
  shown.set(message.id, message);
  render(node, message);
  renderEmptyState();
  scrollToEnd();
}

/** Shows `message` in `node` from now on (a chat's failure the server has stored). */
export function replaceShown(node, message) {
  shown.set(message.id, message);
  render(node, message);
}

export function forgetMessage(id) {
  elements.delete(id);
  shown.delete(id);
}

/** A provisional element becomes the stored message's (or goes, if another element shows it already). */
export function adopt(node, message) {
  if (!message) {
    node.remove();
    return;
  }
  const existing = elements.get(message.id);
  if (existing && existing !== node) {
    node.remove();
    return;
  }
  if (!existing) {
    node.dataset.messageId = message.id;
    elements.set(message.id, node);
    node.remove();
    placeMessage(node, message.id);
  }
}

/** Inserts an element before the first message with a greater id (UUIDv7: string order is creation order); provisional ones stay last. */
function placeMessage(node, id) {
  const list = $('message-list');
  const after = [...list.children].find((child) => !child.dataset.messageId || child.dataset.messageId > id);
  list.insertBefore(node, after || null);
}

/** Elements not yet stored (a chat being sent) go at the end. */
export function appendProvisional(...nodes) {
  $('message-list').append(...nodes);
}

export function newMessageElement() {
  return createMessageElement(retryMessage);
}

export function render(node, message) {
  renderMessage(node, message, Boolean(retryFor(message)));
}

function retryFor(message) {
  if (!message.id) return null;
  const stashed = retries.get(message.id);
  if (stashed) return stashed;
  if (message.role === 'user' && !(message.attachments && message.attachments.length) && message.content) {
    return { kind: 'chat', text: message.content };
  }
  return null;
}

async function retryMessage(article) {
  const id = article.dataset.messageId;
  const message = id && shown.get(id);
  let plan = message && retryFor(message);
  if (!plan && !id && article.dataset.retryText) {
    // A chat the server never stored: it goes, and is sent again.
    plan = { kind: 'chat', text: article.dataset.retryText };
    article.remove();
  }
  if (!plan) return;
  try {
    await retryHandlers.get(plan.kind)(plan);
  } catch (error) {
    showError(error);
  }
}

/** The line shown over an empty list, and the pane's look without a conversation. */
export function renderEmptyState() {
  const has = Boolean(conversationId);
  $('chat').classList.toggle('no-conversation', !has);
  const empty = $('chat-empty');
  empty.hidden = $('message-list').children.length > 0;
  empty.textContent = has ? t('emptyChat') : t('pickConversation');
}

export function scrollToEnd() {
  const list = $('message-list');
  list.scrollTop = list.scrollHeight;
}
