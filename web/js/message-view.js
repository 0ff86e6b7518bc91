// One message's element: who wrote it, its text (or the streamed answer so
// far), its attachment, progress while a file is read, its failure with a
// retry button, the recognised text, and an answer's sources (sources.js
// draws them and opens their pages). Stateless: messages.js and chat.js keep
// track of which element shows which message.

import { el, icon } from './dom.js';
import { t } from './i18n.js';
import { renderSources } from './sources.js';

/** An empty message element; `onRetry(article)` runs when its retry button is pressed. */
export function createMessageElement(onRetry) {
  const article = el('article', 'message');
  article.dataset.testid = 'message';
  const who = el('div', 'message-who');
  const bubble = el('div', 'bubble');
  const attachment = el('div', 'attachment');
  attachment.hidden = true;
  const text = el('div', 'message-text');
  text.dataset.testid = 'message-text';
  const progress = el('div', 'message-progress');
  progress.dataset.testid = 'message-progress';
  progress.hidden = true;
  const error = el('div', 'message-error');
  error.dataset.testid = 'message-error';
  error.hidden = true;
  const retry = el('button', 'secondary small message-retry', t('retry'));
  retry.type = 'button';
  retry.dataset.testid = 'message-retry';
  retry.hidden = true;
  retry.addEventListener('click', () => onRetry(article));
  const details = el('details', 'recognised');
  details.dataset.testid = 'recognised-text';
  details.hidden = true;
  details.append(el('summary', null, t('recognisedText')), el('pre', 'recognised-body'));
  const sources = el('div', 'sources', el('div', 'sources-heading', t('sources')), el('ul', 'sources-list'));
  sources.dataset.testid = 'sources';
  sources.hidden = true;
  bubble.append(attachment, text, progress, error, retry, details, sources);
  article.append(who, bubble);
  return article;
}

function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function progressText(message) {
  const file = message.attachments && message.attachments[0];
  if (message.status === 'queued' || message.stage === 'queued' || (message.status === 'processing' && !message.stage)) return t('waiting');
  if (message.stage === 'ocr') {
    if (file && file.pages && file.pages_read !== undefined && file.pages_read !== null) {
      return `${t('reading')} · ${t('pageOf', Math.min(file.pages_read + 1, file.pages), file.pages)}`;
    }
    return t('reading');
  }
  if (message.stage === 'llm') return t('answering');
  return t('waiting');
}

/** Fills a message element from the message (text only through textContent); `canRetry` shows the retry button on a failure. */
export function renderMessage(node, message, canRetry) {
  const [who, bubble] = node.children;
  const [attachment, text, progress, error, retry, details, sources] = bubble.children;
  node.dataset.role = message.role;
  node.dataset.status = message.status;
  if (message.id) node.dataset.messageId = message.id;
  node.classList.toggle('from-user', message.role === 'user');
  node.classList.toggle('from-assistant', message.role === 'assistant');
  who.textContent = message.role === 'user' ? t('you') : t('assistant');

  const file = message.attachments && message.attachments[0];
  attachment.hidden = !file;
  if (file) {
    const parts = [formatSize(file.size)];
    if (file.pages) parts.push(t('pages', file.pages));
    attachment.replaceChildren(
      icon('file'),
      el('span', 'attachment-name', file.filename),
      el('span', 'attachment-meta', parts.filter(Boolean).join(' · ')),
    );
  }

  // A streamed answer keeps what it has shown until the stored text arrives.
  const streamed = node.dataset.streamed || '';
  const content = message.content || (message.status !== 'done' && message.status !== 'failed' ? streamed : '');
  text.textContent = content;
  text.hidden = !content && !(message.role === 'assistant' && message.status === 'processing');
  const thinking = message.role === 'assistant' && !content && message.status !== 'done' && message.status !== 'failed';
  text.classList.toggle('thinking', thinking);
  if (thinking) text.textContent = t('thinking');

  const working = (message.status === 'queued' || message.status === 'processing') && Boolean(file);
  progress.hidden = !working;
  if (working) progress.replaceChildren(el('span', 'spinner'), el('span', null, progressText(message)));

  const failed = message.status === 'failed';
  error.hidden = !failed;
  error.textContent = failed ? message.error || t('genericError') : '';
  retry.hidden = !(failed && canRetry);

  const recognised = message.status === 'done' && message.document_text;
  details.hidden = !recognised;
  details.lastElementChild.textContent = recognised ? message.document_text : '';

  renderSources(sources, message.role === 'assistant' ? message.sources : []);
}
