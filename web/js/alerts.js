// The one alert bar at the top of the page: a failure in plain words.

import { ApiError, SessionEnded } from './api.js';
import { $ } from './dom.js';
import { t } from './i18n.js';

/** Shows an error (a string, an ApiError, or anything else as a general message); a session end or an abort says nothing. */
export function showError(error) {
  if (error instanceof SessionEnded) return;
  if (error && error.name === 'AbortError') return;
  const message = typeof error === 'string' ? error : error instanceof ApiError ? error.message : t('genericError');
  if (!(error instanceof ApiError) && typeof error !== 'string') console.warn(error);
  $('alert-text').textContent = message;
  $('alert').hidden = false;
}

export function clearError() {
  $('alert').hidden = true;
  $('alert-text').textContent = '';
}

export function wireAlerts() {
  $('alert-close').addEventListener('click', clearError);
}
