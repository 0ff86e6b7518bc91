// Who is signed in: the token (kept in localStorage across reloads), the
// user, the login/register form and logging out. What signing in and out
// mean for the rest of the page comes from the hooks app.js gives.

import { showError, clearError } from './alerts.js';
import { api, ApiError, SessionEnded, authorizeWith } from './api.js';
import { $ } from './dom.js';
import { t } from './i18n.js';

const TOKEN_KEY = 'scribe.token';

let token = localStorage.getItem(TOKEN_KEY);
let user = null;
/** signedIn(): show the signed-in page's contents (async); signedOut(): forget them. */
let hooks = { signedIn: async () => {}, signedOut: () => {} };

authorizeWith({ token: () => token, expired: () => endSession(t('sessionExpired')) });

export const isSignedIn = () => Boolean(token);

function showAuth() {
  $('app-screen').hidden = true;
  $('auth-screen').hidden = false;
  $('auth-email').focus();
}

function showApp() {
  $('auth-screen').hidden = true;
  $('app-screen').hidden = false;
  $('user-email').textContent = user ? user.email : '';
}

async function enterApp() {
  showApp();
  await hooks.signedIn();
}

async function authenticate(kind) {
  const email = $('auth-email').value.trim();
  const password = $('auth-password').value;
  const buttons = [$('auth-login'), $('auth-register')];
  buttons.forEach((b) => (b.disabled = true));
  try {
    const session = await api(`/v1/auth/${kind}`, { method: 'POST', json: { email, password } });
    token = session.access_token;
    user = session.user;
    localStorage.setItem(TOKEN_KEY, token);
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

/** Forgets the token and everything shown; back to the login form. */
export function endSession(message) {
  hooks.signedOut();
  token = null;
  user = null;
  localStorage.removeItem(TOKEN_KEY);
  clearError();
  showAuth();
  if (message) showError(message);
}

export function wireSession({ signedIn, signedOut }) {
  hooks = { signedIn, signedOut };
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    authenticate('login');
  });
  $('auth-register').addEventListener('click', () => authenticate('register'));
  $('logout').addEventListener('click', () => endSession());
}

/** With a remembered token: straight into the app; without one (or if it is refused): the form. */
export async function resumeSession() {
  if (!token) {
    showAuth();
    return;
  }
  try {
    user = await api('/v1/me');
    await enterApp();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    // Could not reach the server: keep the token, say so, show the form.
    showAuth();
    showError(error);
  }
}
