// DOM helpers. The host serves the page with a strict Content-Security-Policy,
// so there is no inline code and no HTML string: every node is made with h().

/** The first element matching `sel` under `root`. */
export const $ = (sel, root = document) => root.querySelector(sel);

/** h('div', {class: 'x', onclick: f, hidden: true}, child, ...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value' || k === 'checked' || k === 'selected') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends nodes, strings and (nested) arrays of them; skips null/false. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Polite announcement for screen readers (results of async actions). */
export function announce(text) {
  const region = $('#announce');
  region.textContent = '';
  // A fresh text node after a tick is announced even when the text repeats.
  setTimeout(() => { region.textContent = text; }, 30);
}

/** Placeholder cards while a list loads. */
export function skeletons(container, n, cls) {
  clear(container);
  container.setAttribute('aria-busy', 'true');
  for (let i = 0; i < n; i++) {
    container.append(h(container.tagName === 'OL' ? 'li' : 'div', { class: `card skeleton ${cls || ''}`, 'aria-hidden': 'true' },
      h('span', { class: 'sk-line sk-title' }), h('span', { class: 'sk-line' }), h('span', { class: 'sk-line sk-short' })));
  }
}

/** Replaces a list with the reason it could not load and a Retry button. */
export function loadError(container, e, retry) {
  clear(container);
  container.setAttribute('aria-busy', 'false');
  container.append(h('div', { class: 'card notice notice-error', role: 'alert' },
    h('p', {}, `Could not load: ${e.message}`),
    h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry')));
}

/** A label + input (+ hint) block; gives the input its id. */
export function field(id, label, input, hint) {
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, ...[].concat(label)), input,
    hint ? h('small', { class: 'hint', id: `${id}-hint` }, hint) : null);
}

/** Focuses the element with this id, if it is (still) on the page. */
export function focusId(id) {
  const t = document.getElementById(id);
  if (t) t.focus();
}

/** WAI-ARIA tabs pattern with automatic activation. */
export function wireTabs(tablist, onSelect) {
  const tabs = () => [...tablist.querySelectorAll('[role=tab]')];
  const select = (tab, focus) => {
    for (const t of tabs()) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(t.getAttribute('aria-controls'));
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    if (onSelect) onSelect(tab);
  };
  tablist.addEventListener('click', (e) => {
    const t = e.target.closest('[role=tab]');
    if (t) select(t, false);
  });
  tablist.addEventListener('keydown', (e) => {
    const list = tabs();
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % list.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + list.length) % list.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = list.length - 1;
    if (j !== null) {
      e.preventDefault();
      select(list[j], true);
    }
  });
}
