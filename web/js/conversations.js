// The signed-in user's conversations: the list in the sidebar (new, rename,
// delete), which one is open (remembered in localStorage across reloads), and
// switching to another: its history, then its live stream.

import { showError } from './alerts.js';
import { api } from './api.js';
import { $, el, icon } from './dom.js';
import { closeEvents, isLive, openEvents } from './events.js';
import { t } from './i18n.js';
import { isCurrent, refreshHistory, renderEmptyState, showConversation, shownConversation } from './messages.js';

const CONVERSATION_KEY = 'scribe.conversation';

let conversations = [];
/** Told the id about to be opened, before the switch (chat.js lets go of an answer in flight). */
let leaving = () => {};

export function onLeave(listener) {
  leaving = listener;
}

/** Just signed in: the list, then the conversation open last time (or the newest). */
export async function enterConversations() {
  await loadConversations();
  const remembered = localStorage.getItem(CONVERSATION_KEY);
  const target = conversations.find((c) => c.id === remembered) || conversations[0];
  if (target) await selectConversation(target.id);
  else renderChat();
}

/** Signed out: nothing listed, nothing remembered. */
export function resetConversations() {
  conversations = [];
  localStorage.removeItem(CONVERSATION_KEY);
  $('conversation-list').replaceChildren();
}

async function loadConversations() {
  const page = await api('/v1/conversations?limit=50');
  conversations = page.items;
  renderConversations();
}

function conversationTitle(conversation) {
  return (conversation && conversation.title && conversation.title.trim()) || t('untitled');
}

function renderConversations() {
  const list = $('conversation-list');
  list.replaceChildren();
  for (const conversation of conversations) list.append(conversationItem(conversation));
  $('no-conversations').hidden = conversations.length > 0;
}

function conversationItem(conversation) {
  const title = conversationTitle(conversation);
  const item = el('li', 'conversation');
  item.dataset.testid = 'conversation';
  item.dataset.conversationId = conversation.id;
  const current = conversation.id === shownConversation();
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
      const index = conversations.findIndex((c) => c.id === conversation.id);
      if (index >= 0) conversations[index] = { ...conversations[index], ...updated };
      if (conversation.id === shownConversation()) renderChatTitle();
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
  conversations = conversations.filter((c) => c.id !== conversation.id);
  if (conversation.id === shownConversation()) {
    closeEvents();
    showConversation(null);
    localStorage.removeItem(CONVERSATION_KEY);
    const next = conversations[0];
    if (next) await selectConversation(next.id);
  }
  renderConversations();
  renderChat();
  $('new-conversation').focus();
}

async function newConversation() {
  const conversation = await api('/v1/conversations', { method: 'POST', json: { title: t('newConversation') } });
  conversations = [conversation, ...conversations.filter((c) => c.id !== conversation.id)];
  await selectConversation(conversation.id);
  $('chat-input').focus();
  return conversation;
}

/** The open conversation's id; a new conversation is made (and opened) when none is. */
export async function ensureConversation() {
  const id = shownConversation();
  if (id) return id;
  const conversation = await newConversation();
  return conversation.id;
}

async function selectConversation(id) {
  if (id === shownConversation() && isLive()) return;
  closeEvents({ fromStart: true });
  leaving(id);
  const generation = showConversation(id);
  localStorage.setItem(CONVERSATION_KEY, id);
  renderConversations();
  renderChat();
  await refreshHistory(generation);
  if (isCurrent(generation)) openEvents(generation);
}

function renderChatTitle() {
  const conversation = conversations.find((c) => c.id === shownConversation());
  $('chat-title').textContent = conversation ? conversationTitle(conversation) : '';
}

function renderChat() {
  renderChatTitle();
  renderEmptyState();
}

/** Fetches the list again: the conversation just active moves to the top, and may have a new title. */
export async function touchConversation() {
  try {
    await loadConversations();
    renderChatTitle();
  } catch (error) {
    showError(error);
  }
}

function openSidebar(open) {
  $('app-screen').classList.toggle('sidebar-open', open);
  $('toggle-sidebar').setAttribute('aria-expanded', String(open));
}

function closeSidebar() {
  openSidebar(false);
}

export function wireConversations() {
  $('new-conversation').addEventListener('click', () => {
    newConversation().catch(showError);
    closeSidebar();
  });
  $('toggle-sidebar').addEventListener('click', () => {
    openSidebar(!$('app-screen').classList.contains('sidebar-open'));
  });
}
