// Signing in and out. Sign-out is explicit: the Sign out button, or a view
// that got `Unauthorized` from the API and hands it to `handled()`. The API
// client never signs out by itself.

import { Aborted, Client, SLUG_RE, Unauthorized } from './api.js';
import { $, announce } from './dom.js';
import { clearFlash } from './flash.js';
import { SESSION_KEY, state, stopPolling } from './state.js';

/** Shown when the token stops being accepted while signed in. */
export const TOKEN_REFUSED = 'Your token is no longer accepted. Sign in again.';

function begin(session) {
  state.session = session;
  state.client = new Client(session);
  state.providerNames.clear();
}

/** The session kept in this tab's sessionStorage, if any (true when resumed). */
export function resume() {
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { saved = null; }
  if (!saved || typeof saved.org !== 'string' || typeof saved.token !== 'string' || !saved.org || !saved.token) {
    return false;
  }
  begin({ org: saved.org, token: saved.token });
  showSignedIn();
  return true;
}

function showSignedIn() {
  $('#signin-view').hidden = true;
  $('#app-view').hidden = false;
  $('#session').hidden = false;
  $('#session-org').textContent = state.session.org;
}

/** Forgets the session, stops every refresh and shows the sign-in form. */
export function signOut(message) {
  state.refresh.cancel();
  state.filterRefresh.cancel();
  stopPolling();
  clearFlash();
  sessionStorage.removeItem(SESSION_KEY);
  state.session = null;
  state.client = null;
  state.view = null;
  for (const e of state.deployCards.values()) e.el.remove();
  state.deployCards.clear();
  state.deploysSeen = { path: null, etag: null, pending: false, older: null, olderShown: false };
  $('#app-view').hidden = true;
  $('#session').hidden = true;
  $('#signin-view').hidden = false;
  $('#signin-token').value = '';
  $('#signin-error').textContent = message || '';
  if (message) announce(message);
  $('#signin-org').focus();
}

/**
 * The failures every view treats alike. True when `e` is dealt with and the
 * view shows nothing: a superseded refresh, a refused token (signs out), or
 * a session that ended while the request was out.
 */
export function handled(e) {
  if (e instanceof Aborted) return true;
  if (e instanceof Unauthorized && state.session) {
    signOut(TOKEN_REFUSED);
    return true;
  }
  return !state.session;
}

/** Wires the sign-in form and the Sign out button; `onSignedIn` shows the app. */
export function wireSession(onSignedIn) {
  $('#signout').addEventListener('click', () => signOut('Signed out.'));
  $('#signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const org = $('#signin-org').value.trim();
    const token = $('#signin-token').value.trim();
    const err = $('#signin-error');
    err.textContent = '';
    if (!SLUG_RE.test(org)) {
      err.textContent = 'Enter the organisation slug: lower-case letters, digits and dashes.';
      $('#signin-org').focus();
      return;
    }
    if (!token) {
      err.textContent = 'Enter an org token.';
      $('#signin-token').focus();
      return;
    }
    const button = ev.submitter || $('#signin-form button[type=submit]');
    button.disabled = true;
    const client = new Client({ org, token });
    try {
      await client.get(client.orgPath('/integrations'));
    } catch (e) {
      button.disabled = false;
      err.textContent = e.status === 401
        ? 'That token was not accepted. Check it and try again.'
        : e.status === 403
          ? 'This token may only register deploys; sign in with a token of scope "all".'
          : e.status === 404
            ? `No organisation "${org}" for this token. ${e.message}`
            : e.message;
      return;
    }
    button.disabled = false;
    begin({ org, token });
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    $('#signin-token').value = '';
    showSignedIn();
    announce(`Signed in to ${org}`);
    onSignedIn();
  });
}
