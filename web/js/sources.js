// An answer's sources: the list under an assistant message, and the dialog
// that shows a source's page as it was recognised (fetched when opened). A
// source without a known page shows the opening words it was chosen for.

import { showError } from './alerts.js';
import { api } from './api.js';
import { $, el, icon } from './dom.js';
import { t } from './i18n.js';

/** The source button that opened the dialog (focused again when it closes) and the page fetch in flight. */
let opener = null;
let loading = null;
/** A sources list → the sources it shows (as JSON). */
const shown = new WeakMap();

const hasPage = (source) => Number.isInteger(source.page);

/** One source's button: "filename · p. N" (just the file name when the page is not known), its opening words as the title. */
function sourceButton(source) {
  const label = hasPage(source) ? `${source.filename} · ${t('pageShort', source.page)}` : source.filename;
  const button = el('button', 'source', icon('file'), el('span', 'source-name', label));
  button.type = 'button';
  button.dataset.testid = 'source';
  if (source.snippet) button.title = source.snippet;
  button.addEventListener('click', () => openSource(source, button));
  return button;
}

/** Fills a message's sources list (rebuilt only when they change, so a focused button stays put). */
export function renderSources(box, sources) {
  const list = Array.isArray(sources) ? sources : [];
  box.hidden = list.length === 0;
  const key = JSON.stringify(list);
  if (shown.get(box) === key) return;
  shown.set(box, key);
  box.lastElementChild.replaceChildren(...list.map((source) => el('li', null, sourceButton(source))));
}

/** Opens the dialog on a source: its page's text, fetched now, or its opening words when the page is not known. */
export async function openSource(source, from) {
  const dialog = $('source-dialog');
  if (loading) loading.abort();
  loading = null;
  opener = from;
  const known = hasPage(source);
  $('source-title').textContent = known ? `${source.filename} · ${t('pageLong', source.page)}` : source.filename;
  $('source-note').hidden = known;
  $('source-note').textContent = known ? '' : t('pageUnknown');
  const text = $('source-text');
  text.textContent = known ? t('loading') : source.snippet || '';
  text.classList.toggle('loading', known);
  text.scrollTop = 0;
  if (!dialog.open) dialog.showModal();
  if (!known) return;

  const abort = new AbortController();
  loading = abort;
  try {
    const page = await api(`/v1/messages/${encodeURIComponent(source.message_id)}/pages/${source.page}`, { signal: abort.signal });
    if (loading !== abort) return;
    text.textContent = page.text;
    text.classList.remove('loading');
  } catch (error) {
    if (loading !== abort) return;
    dialog.close();
    showError(error);
  } finally {
    if (loading === abort) loading = null;
  }
}

/** Closes the dialog (logging out, say). */
export function closeSource() {
  opener = null;
  const dialog = $('source-dialog');
  if (dialog.open) dialog.close();
}

export function wireSources() {
  const dialog = $('source-dialog');
  $('source-close').addEventListener('click', () => dialog.close());
  // A click on the backdrop (the dialog itself, outside its inner frame) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    if (loading) loading.abort();
    loading = null;
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
}
