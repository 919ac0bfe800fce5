// The page's state, in one place. Modules read and change it through this
// object rather than keeping their own module-level variables, so what the
// page knows at any moment is this and the DOM.

import { Latest } from './refresh.js';

/** The sessionStorage key of the signed-in session. */
export const SESSION_KEY = 'buildsnap.session';

export const state = {
  /** {org, token} while signed in, else null. */
  session: null,
  /** The API `Client` of the session, else null. */
  client: null,
  /** The view shown: 'deploys', 'projects' or 'integrations'. */
  view: null,
  /** The view refresh in flight; a newer one (or sign-out) aborts it. */
  refresh: new Latest(),
  /** The Deploys filter's project list in flight (its own slot: the list may be slow). */
  filterRefresh: new Latest(),
  /** The timer of the next Deploys poll, else null. */
  pollTimer: null,
  /** The message shown after an action, {scope, kind, text, timer}, else null. */
  flash: null,
  /** Provider id -> display name, filled once per session. */
  providerNames: new Map(),
  /** Deploy id -> its card {el, key, update}, so a poll updates cards in place. */
  deployCards: new Map(),
  /**
   * The Deploys list as last answered: the request path, its ETag (a poll
   * sends it, and a 304 means no repaint), whether a capture was pending,
   * and where older deploys continue (`next_cursor`) once "Show older" was used.
   */
  deploysSeen: { path: null, etag: null, pending: false, older: null, olderShown: false },
};

/** Cancels the next Deploys poll. */
export function stopPolling() {
  if (state.pollTimer) clearTimeout(state.pollTimer);
  state.pollTimer = null;
}
