// Uploading files into the open conversation: picked with the attach button
// or dropped on the chat pane, all in one request. Each becomes a message the
// live stream shows being read; its retry uploads the same file again.

import { showError, clearError } from './alerts.js';
import { api } from './api.js';
import { ensureConversation, touchConversation } from './conversations.js';
import { $ } from './dom.js';
import { onRetry, refreshHistory, rememberRetry, shownConversation } from './messages.js';

export async function uploadFiles(files) {
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
      if (file && item.message_id) rememberRetry(item.message_id, { kind: 'file', file });
    }
    clearError();
    if (conversationId === shownConversation()) {
      // The live stream shows them; fetching once more covers a stream that is still opening.
      refreshHistory().catch(showError);
    }
    touchConversation();
  } finally {
    $('file-label').classList.remove('busy');
  }
}

export function wireFiles() {
  onRetry('file', (plan) => uploadFiles([plan.file]));

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
