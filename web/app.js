// Scribe's page: log in, list conversations, chat with streamed answers,
// upload files and watch them being read, live, over Server-Sent Events.
// Everything a user or a file wrote is shown with textContent, never as HTML.

import { showError, clearError, wireAlerts } from './js/alerts.js';
import { api, ApiError, SessionEnded, authorizeWith, readEvents } from './js/api.js';
import { $, el, icon } from './js/dom.js';
import { t, translatePage } from './js/i18n.js';
import { createMessageElement, renderMessage } from './js/message-view.js';

const TOKEN_KEY = 'scribe.token';
const CONVERSATION_KEY = 'scribe.conversation';

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  user: null,
  conversations: [],
  currentId: null,
  /** id → the message as last shown */
  messages: new Map(),
  /** id → its element */
  elements: new Map(),
  /** Bumped on each conversation switch or logout, so late answers are dropped. */
  generation: 0,
  events: null,
  lastEventId: null,
  reconnectTimer: null,
  reconnectDelay: 1000,
  /** The chat being streamed: { text, conversationId, userEl, assistantEl, userId, assistantId, streaming } */
  pending: null,
  chatAbort: null,
  /** message id → { kind: 'chat', text } | { kind: 'file', file } — what a retry sends again. */
  retries: new Map(),
};

authorizeWith({ token: () => state.token, expired: () => endSession(t('sessionExpired')) });

// ---------------------------------------------------------------- session

function showAuth() {
  $('app-screen').hidden = true;
  $('auth-screen').hidden = false;
  $('auth-email').focus();
}

function showApp() {
  $('auth-screen').hidden = true;
  $('app-screen').hidden = false;
  $('user-email').textContent = state.user ? state.user.email : '';
}

async function authenticate(kind) {
  const email = $('auth-email').value.trim();
  const password = $('auth-password').value;
  const buttons = [$('auth-login'), $('auth-register')];
  buttons.forEach((b) => (b.disabled = true));
  try {
    const session = await api(`/v1/auth/${kind}`, { method: 'POST', json: { email, password } });
    state.token = session.access_token;
    state.user = session.user;
    localStorage.setItem(TOKEN_KEY, state.token);
    $('auth-password').value = '';
    clearError();
    await enterApp();
  } catch (error) {
    showError(error);
    const field = error instanceof ApiError && error.field;
    if (field === 'email') $('auth-email').focus();
    else if (field === 'password') $('auth-password').focus();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

async function enterApp() {
  showApp();
  await loadConversations();
  const remembered = localStorage.getItem(CONVERSATION_KEY);
  const target = state.conversations.find((c) => c.id === remembered) || state.conversations[0];
  if (target) await selectConversation(target.id);
  else renderChat();
}

/** Forgets the token and everything shown; back to the login form. */
function endSession(message) {
  state.generation += 1;
  closeEvents();
  if (state.chatAbort) state.chatAbort.abort();
  state.chatAbort = null;
  state.pending = null;
  state.token = null;
  state.user = null;
  state.conversations = [];
  state.currentId = null;
  state.retries.clear();
  clearMessages();
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(CONVERSATION_KEY);
  $('conversation-list').replaceChildren();
  $('chat-input').value = '';
  clearError();
  showAuth();
  if (message) showError(message);
}

// ---------------------------------------------------------------- conversations

async function loadConversations() {
  const page = await api('/v1/conversations?limit=50');
  state.conversations = page.items;
  renderConversations();
}

function conversationTitle(conversation) {
  return (conversation && conversation.title && conversation.title.trim()) || t('untitled');
}

function renderConversations() {
  const list = $('conversation-list');
  list.replaceChildren();
  for (const conversation of state.conversations) list.append(conversationItem(conversation));
  $('no-conversations').hidden = state.conversations.length > 0;
}

function conversationItem(conversation) {
  const title = conversationTitle(conversation);
  const item = el('li', 'conversation');
  item.dataset.testid = 'conversation';
  item.dataset.conversationId = conversation.id;
  const current = conversation.id === state.currentId;
  item.classList.toggle('current', current);

  const open = el('button', 'conversation-open', title);
  open.type = 'button';
  open.title = title;
  if (current) open.setAttribute('aria-current', 'true');
  open.addEventListener('click', () => {
    selectConversation(conversation.id).catch(showError);
    closeSidebar();
  });

  const rename = el('button', 'icon-button');
  rename.append(icon('pencil'));
  rename.type = 'button';
  rename.dataset.testid = 'conversation-rename';
  rename.setAttribute('aria-label', t('renameOf', title));
  rename.title = t('rename');
  rename.addEventListener('click', () => startRename(item, conversation));

  const remove = el('button', 'icon-button danger');
  remove.append(icon('trash'));
  remove.type = 'button';
  remove.dataset.testid = 'conversation-delete';
  remove.setAttribute('aria-label', t('deleteOf', title));
  remove.title = t('delete');
  remove.addEventListener('click', () => deleteConversation(conversation).catch(showError));

  item.append(open, rename, remove);
  return item;
}

function startRename(item, conversation) {
  const form = el('form', 'rename-form');
  const input = el('input', 'rename-input');
  input.type = 'text';
  input.value = conversation.title || '';
  input.maxLength = 200;
  input.setAttribute('aria-label', t('renameTo'));
  const save = el('button', 'icon-button');
  save.append(icon('check'));
  save.type = 'submit';
  save.setAttribute('aria-label', t('save'));
  const cancel = el('button', 'icon-button');
  cancel.append(icon('cross'));
  cancel.type = 'button';
  cancel.setAttribute('aria-label', t('cancel'));
  const restore = () => {
    renderConversations();
    const again = findConversationItem(conversation.id);
    if (again) again.querySelector('[data-testid="conversation-rename"]').focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    try {
      const updated = await api(`/v1/conversations/${conversation.id}`, { method: 'PATCH', json: { title } });
      const index = state.conversations.findIndex((c) => c.id === conversation.id);
      if (index >= 0) state.conversations[index] = { ...state.conversations[index], ...updated };
      if (conversation.id === state.currentId) renderChatTitle();
      restore();
    } catch (error) {
      showError(error);
    }
  });
  cancel.addEventListener('click', restore);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      restore();
    }
  });
  form.append(input, save, cancel);
  item.replaceChildren(form);
  input.focus();
  input.select();
}

function findConversationItem(id) {
  return [...$('conversation-list').children].find((li) => li.dataset.conversationId === id);
}

async function deleteConversation(conversation) {
  if (!window.confirm(t('confirmDelete', conversationTitle(conversation)))) return;
  await api(`/v1/conversations/${conversation.id}`, { method: 'DELETE' });
  state.conversations = state.conversations.filter((c) => c.id !== conversation.id);
  if (conversation.id === state.currentId) {
    state.generation += 1;
    closeEvents();
    state.currentId = null;
    localStorage.removeItem(CONVERSATION_KEY);
    clearMessages();
    const next = state.conversations[0];
    if (next) await selectConversation(next.id);
  }
  renderConversations();
  renderChat();
  $('new-conversation').focus();
}

async function newConversation() {
  const conversation = await api('/v1/conversations', { method: 'POST', json: { title: t('newConversation') } });
  state.conversations = [conversation, ...state.conversations.filter((c) => c.id !== conversation.id)];
  await selectConversation(conversation.id);
  $('chat-input').focus();
  return conversation;
}

async function selectConversation(id) {
  if (id === state.currentId && state.events) return;
  state.generation += 1;
  closeEvents();
  if (state.chatAbort && state.pending && state.pending.conversationId !== id) {
    // The answer is still finished and stored by the server; it shows when we come back.
    state.chatAbort.abort();
  }
  state.pending = null;
  state.currentId = id;
  state.lastEventId = null;
  localStorage.setItem(CONVERSATION_KEY, id);
  clearMessages();
  renderConversations();
  renderChat();
  const generation = state.generation;
  await refreshHistory(generation);
  if (generation === state.generation) openEvents(generation);
}

function renderChatTitle() {
  const conversation = state.conversations.find((c) => c.id === state.currentId);
  $('chat-title').textContent = conversation ? conversationTitle(conversation) : '';
}

function renderChat() {
  const has = Boolean(state.currentId);
  renderChatTitle();
  $('chat').classList.toggle('no-conversation', !has);
  const empty = $('chat-empty');
  const count = $('message-list').children.length;
  empty.hidden = count > 0;
  empty.textContent = has ? t('emptyChat') : t('pickConversation');
}

/** Fetches the list again: the conversation just active moves to the top, and may have a new title. */
async function touchConversation() {
  try {
    await loadConversations();
    renderChatTitle();
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------- messages

function clearMessages() {
  state.messages.clear();
  state.elements.clear();
  $('message-list').replaceChildren();
}

async function refreshHistory(generation = state.generation) {
  const id = state.currentId;
  if (!id) return;
  const page = await api(`/v1/conversations/${id}/messages?limit=200`);
  if (generation !== state.generation || id !== state.currentId) return;
  for (const message of page.items) upsertMessage(message);
  renderChat();
}

function isNewer(message, shown) {
  if (!shown) return true;
  return !(message.updated_at && shown.updated_at && message.updated_at < shown.updated_at);
}

/** Shows a message, creating its element or updating it, in id order. */
function upsertMessage(message) {
  if (!message || message.conversation_id !== state.currentId) return;
  const shown = state.messages.get(message.id);
  if (!isNewer(message, shown)) return;
  let node = state.elements.get(message.id) || claimProvisional(message);
  if (!node) {
    node = newMessageElement();
    node.dataset.messageId = message.id;
    placeMessage(node, message.id);
  }
  state.elements.set(message.id, node);
  state.messages.set(message.id, message);
  render(node, message);
  renderChat();
  scrollToEnd();
}

/** A message the server stored for the chat being streamed takes over its provisional element. */
function claimProvisional(message) {
  const pending = state.pending;
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

/** Inserts an element before the first message with a greater id (UUIDv7: string order is creation order); provisional ones stay last. */
function placeMessage(node, id) {
  const list = $('message-list');
  const after = [...list.children].find((child) => !child.dataset.messageId || child.dataset.messageId > id);
  list.insertBefore(node, after || null);
}

function newMessageElement() {
  return createMessageElement(retryMessage);
}

function render(node, message) {
  renderMessage(node, message, Boolean(retryFor(message)));
}

function retryFor(message) {
  if (!message.id) return null;
  const stashed = state.retries.get(message.id);
  if (stashed) return stashed;
  if (message.role === 'user' && !(message.attachments && message.attachments.length) && message.content) {
    return { kind: 'chat', text: message.content };
  }
  return null;
}

async function retryMessage(article) {
  const id = article.dataset.messageId;
  const message = id && state.messages.get(id);
  let plan = message && retryFor(message);
  if (!plan && !id && article.dataset.retryText) {
    // A chat the server never stored: it goes, and is sent again.
    plan = { kind: 'chat', text: article.dataset.retryText };
    article.remove();
  }
  if (!plan) return;
  try {
    if (plan.kind === 'chat') await sendChat(plan.text);
    else await uploadFiles([plan.file]);
  } catch (error) {
    showError(error);
  }
}

function scrollToEnd() {
  const list = $('message-list');
  list.scrollTop = list.scrollHeight;
}

// ---------------------------------------------------------------- live events

function closeEvents() {
  if (state.events) {
    state.events.close();
    state.events = null;
  }
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
}

async function openEvents(generation) {
  const id = state.currentId;
  if (!id || !state.token) return;
  let token;
  try {
    ({ token } = await api(`/v1/conversations/${id}/events/token`, { method: 'POST' }));
  } catch (error) {
    if (error instanceof SessionEnded || generation !== state.generation) return;
    if (error instanceof ApiError && error.status === 404) return; // deleted meanwhile
    scheduleReconnect(generation);
    return;
  }
  if (generation !== state.generation) return;
  let url = `/v1/conversations/${id}/events?token=${encodeURIComponent(token)}`;
  if (state.lastEventId) url += `&last_event_id=${encodeURIComponent(state.lastEventId)}`;
  const source = new EventSource(url);
  state.events = source;
  const take = (event) => {
    if (generation !== state.generation) return;
    if (event.lastEventId) state.lastEventId = event.lastEventId;
  };
  source.addEventListener('ready', (event) => {
    take(event);
    state.reconnectDelay = 1000;
    // Whatever happened before the stream began comes from the history.
    refreshHistory(generation).catch(showError);
  });
  const onMessage = (event) => {
    if (generation !== state.generation) return;
    take(event);
    state.reconnectDelay = 1000;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    upsertMessage(message);
  };
  source.addEventListener('message.created', onMessage);
  source.addEventListener('message.updated', onMessage);
  source.addEventListener('error', () => {
    if (state.events !== source) return;
    // The token may have expired: close, ask for a new one and resume from the last id.
    source.close();
    state.events = null;
    scheduleReconnect(generation);
  });
}

function scheduleReconnect(generation) {
  if (generation !== state.generation || !state.token) return;
  clearTimeout(state.reconnectTimer);
  const delay = state.reconnectDelay;
  state.reconnectDelay = Math.min(delay * 2, 15000);
  state.reconnectTimer = setTimeout(() => {
    if (generation === state.generation) openEvents(generation);
  }, delay);
}

// ---------------------------------------------------------------- chat

async function ensureConversation() {
  if (state.currentId) return state.currentId;
  const conversation = await newConversation();
  return conversation.id;
}

async function sendChat(rawText) {
  const text = rawText.trim();
  if (!text) return;
  if (state.pending) return; // one answer at a time
  const conversationId = await ensureConversation();
  const generation = state.generation;
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
  $('message-list').append(userEl, assistantEl);
  const pending = { text, conversationId, userEl, assistantEl, userId: null, assistantId: null };
  state.pending = pending;
  renderChat();
  scrollToEnd();
  setComposerBusy(true);

  const abort = new AbortController();
  state.chatAbort = abort;
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
      if (generation !== state.generation || state.pending !== pending) return;
      const payload = JSON.parse(data);
      if (name === 'delta') {
        streamed += payload.text || '';
        assistantEl.dataset.streamed = streamed;
        const shown = pending.assistantId && state.messages.get(pending.assistantId);
        if (!shown || shown.status === 'processing') {
          const textNode = assistantEl.querySelector('.message-text');
          textNode.hidden = false;
          textNode.classList.remove('thinking');
          textNode.textContent = streamed;
        }
        scrollToEnd();
      } else if (name === 'done') {
        finished = true;
        settle(pending, payload.user_message, payload.assistant_message);
      } else if (name === 'error') {
        finished = true;
        const message = (payload.error && payload.error.message) || t('genericError');
        failPending(pending, message);
        showError(message);
      }
    });
    if (!finished && generation === state.generation && state.pending === pending) {
      // The stream ended without an outcome: the history has the truth.
      failPending(pending, null);
      await refreshHistory(generation);
    }
  } catch (error) {
    if (error.name === 'AbortError' || error instanceof SessionEnded) return;
    if (generation === state.generation && state.pending === pending) {
      failPending(pending, error instanceof ApiError ? error.message : t('networkError'));
      showError(error instanceof ApiError ? error : t('networkError'));
      refreshHistory(generation).catch(() => {});
    }
  } finally {
    if (state.pending === pending) state.pending = null;
    if (state.chatAbort === abort) state.chatAbort = null;
    setComposerBusy(false);
  }
  if (generation === state.generation) touchConversation();
}

/** The stored messages replace the provisional ones. */
function settle(pending, userMessage, assistantMessage) {
  adopt(pending.userEl, userMessage);
  adopt(pending.assistantEl, assistantMessage);
  state.pending = null;
  upsertMessage(userMessage);
  upsertMessage(assistantMessage);
}

function adopt(node, message) {
  if (!message) {
    node.remove();
    return;
  }
  const existing = state.elements.get(message.id);
  if (existing && existing !== node) {
    node.remove();
    return;
  }
  if (!existing) {
    node.dataset.messageId = message.id;
    state.elements.set(message.id, node);
    node.remove();
    placeMessage(node, message.id);
  }
}

/** The chat failed: the assistant placeholder goes; the user message shows the failure (the server stores it failed). */
function failPending(pending, message) {
  pending.assistantEl.remove();
  if (pending.assistantId) {
    state.elements.delete(pending.assistantId);
    state.messages.delete(pending.assistantId);
  }
  if (pending.userId) {
    state.retries.set(pending.userId, { kind: 'chat', text: pending.text });
    const shown = state.messages.get(pending.userId);
    if (shown && message) {
      const failed = { ...shown, status: 'failed', stage: null, error: shown.error || message };
      state.messages.set(pending.userId, failed);
      render(pending.userEl, failed);
    }
  } else if (message) {
    // Never stored (e.g. the request was refused): show it failed, retry resends it.
    const failed = {
      id: '', conversation_id: pending.conversationId, role: 'user', content: pending.text, status: 'failed',
      stage: null, error: message, attachments: [], document_text: null,
    };
    render(pending.userEl, failed);
    pending.userEl.dataset.retryText = pending.text;
    pending.userEl.querySelector('.message-retry').hidden = false;
  } else {
    pending.userEl.remove();
  }
  state.pending = null;
  renderChat();
}

function setComposerBusy(busy) {
  $('chat-send').disabled = busy;
  $('composer').classList.toggle('busy', busy);
}

// ---------------------------------------------------------------- files

async function uploadFiles(files) {
  if (!files.length) return;
  const conversationId = await ensureConversation();
  const form = new FormData();
  form.append('conversation_id', conversationId);
  for (const file of files) form.append('file', file, file.name);
  $('file-label').classList.add('busy');
  try {
    const accepted = await api('/v1/chat/file', { method: 'POST', form });
    const items = accepted.items || [{ message_id: accepted.message_id, filename: files[0].name }];
    const unclaimed = [...files];
    for (const item of items) {
      const index = unclaimed.findIndex((f) => f.name === item.filename);
      const file = index >= 0 ? unclaimed.splice(index, 1)[0] : unclaimed.shift();
      if (file && item.message_id) state.retries.set(item.message_id, { kind: 'file', file });
    }
    clearError();
    if (conversationId === state.currentId) {
      // The live stream shows them; fetching once more covers a stream that is still opening.
      refreshHistory().catch(showError);
    }
    touchConversation();
  } finally {
    $('file-label').classList.remove('busy');
  }
}

// ---------------------------------------------------------------- wiring

function openSidebar(open) {
  $('app-screen').classList.toggle('sidebar-open', open);
  $('toggle-sidebar').setAttribute('aria-expanded', String(open));
}

function closeSidebar() {
  openSidebar(false);
}

function wire() {
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    authenticate('login');
  });
  $('auth-register').addEventListener('click', () => authenticate('register'));
  wireAlerts();
  $('logout').addEventListener('click', () => endSession());
  $('new-conversation').addEventListener('click', () => {
    newConversation().catch(showError);
    closeSidebar();
  });
  $('toggle-sidebar').addEventListener('click', () => {
    openSidebar(!$('app-screen').classList.contains('sidebar-open'));
  });

  const input = $('chat-input');
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || state.pending) return;
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

  const fileInput = $('file-input');
  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    fileInput.value = '';
    uploadFiles(files).catch(showError);
  });

  // Drag and drop onto the chat pane: all dropped files in one upload.
  const chat = $('chat');
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  chat.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    $('drop-overlay').hidden = false;
  });
  chat.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  chat.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) $('drop-overlay').hidden = true;
  });
  chat.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    $('drop-overlay').hidden = true;
    uploadFiles([...event.dataTransfer.files]).catch(showError);
  });
  // A file dropped elsewhere must not navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
}

async function start() {
  translatePage();
  wire();
  if (!state.token) {
    showAuth();
    return;
  }
  try {
    state.user = await api('/v1/me');
    await enterApp();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    // Could not reach the server: keep the token, say so, show the form.
    showAuth();
    showError(error);
  }
}

start();
