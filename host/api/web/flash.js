// Flash messages: the result of an action ("CircleCI enabled"), shown in the
// card it concerns until the next action, a navigation, or FLASH_MS.

import { announce } from './dom.js';
import { state } from './state.js';

/** How long a flash stays when nothing else happens. */
export const FLASH_MS = 8000;

/** Shows `text` in the element of `scope` (e.g. a provider's card) from its next render. */
export function setFlash(scope, kind, text) {
  clearFlash();
  const timer = setTimeout(clearFlash, FLASH_MS);
  state.flash = { scope, kind, text, timer };
  announce(text);
}

/** Fills `el` (a role=status element) with the flash of `scope`, if any. */
export function showFlash(el, scope) {
  el.dataset.flashScope = scope;
  const f = state.flash;
  if (!f || f.scope !== scope) return;
  el.textContent = f.text;
  el.classList.add(f.kind === 'error' ? 'msg-error' : 'msg-ok');
}

/** Removes the flash from the state and from the page. */
export function clearFlash() {
  if (state.flash) clearTimeout(state.flash.timer);
  state.flash = null;
  for (const el of document.querySelectorAll('[data-flash-scope]')) {
    el.textContent = '';
    el.classList.remove('msg-error', 'msg-ok');
  }
}
