// buildsnap web page: plain DOM, no framework, no build step. Served by the
// host with a strict Content-Security-Policy, so no inline code and no HTML
// strings: every node is made with h().
'use strict';

(() => {
  const SESSION_KEY = 'buildsnap.session';
  const SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
  const POLL_PENDING_MS = 2500;
  const POLL_IDLE_MS = 10000;

  // ---------- DOM helpers ----------

  const $ = (sel, root = document) => root.querySelector(sel);

  /** h('div', {class: 'x', onclick: f, hidden: true}, child, ...) */
  function h(tag, attrs, ...children) {
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

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  /** Polite announcement for screen readers (results of async actions). */
  function announce(text) {
    const region = $('#announce');
    region.textContent = '';
    // A fresh text node after a tick is announced even when the text repeats.
    setTimeout(() => { region.textContent = text; }, 30);
  }

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ---------- formatting ----------

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
  }

  function timeEl(iso) {
    return h('time', { datetime: iso, title: iso }, fmtTime(iso));
  }

  function fmtDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '—';
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
  }

  function relative(iso) {
    const t = new Date(iso).getTime();
    if (Number.isNaN(t)) return '';
    const diff = Date.now() - t;
    if (diff < 0) return 'in the future';
    if (diff < 60000) return 'just now';
    if (diff < 3600000) return `${Math.floor(diff / 60000)} min ago`;
    if (diff < 86400000) return `${Math.floor(diff / 3600000)} h ago`;
    return `${Math.floor(diff / 86400000)} d ago`;
  }

  /** How long a build or job ran, as it stood at `asOf`. */
  function runTime(start, stop, asOf) {
    if (!start) return 'not started';
    const s = new Date(start).getTime();
    const a = asOf ? new Date(asOf).getTime() : Date.now();
    const e = stop ? new Date(stop).getTime() : NaN;
    if (Number.isFinite(e) && e <= a) return fmtDuration(e - s);
    return `${fmtDuration(a - s)} so far`;
  }

  const STATUS_LABEL = {
    queued: 'queued', running: 'running', failing: 'failing', on_hold: 'on hold',
    success: 'success', failed: 'failed', error: 'error', canceled: 'canceled',
    not_run: 'not run', unknown: 'unknown', none: 'no builds',
    pending: 'capturing…', no_build_server: 'no build server',
  };

  function badge(word, extraLabel) {
    const w = word || 'unknown';
    return h('span', { class: `badge badge-${w.replace(/[^a-z_]/g, '')}` },
      extraLabel ? h('span', { class: 'visually-hidden' }, `${extraLabel}: `) : null,
      STATUS_LABEL[w] || w);
  }

  // ---------- session and API ----------

  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { session = null; }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${session.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', `Could not reach buildsnap (${e.message}). Is the server running?`);
    }
    if (resp.status === 204) return null;
    let data = null;
    try { data = await resp.json(); } catch { data = null; }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      if (resp.status === 401 && !opts.signingIn) {
        signOut('Your token is no longer accepted. Sign in again.');
      }
      throw new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || `HTTP ${resp.status}`);
    }
    return data;
  }

  const orgPath = (rest) => `/api/v1/orgs/${encodeURIComponent(session.org)}${rest}`;
  const enc = encodeURIComponent;

  // ---------- sign in / out ----------

  function showSignedIn() {
    $('#signin-view').hidden = true;
    $('#app-view').hidden = false;
    $('#session').hidden = false;
    $('#session-org').textContent = session.org;
  }

  function signOut(message) {
    sessionStorage.removeItem(SESSION_KEY);
    session = null;
    stopPolling();
    $('#app-view').hidden = true;
    $('#session').hidden = true;
    $('#signin-view').hidden = false;
    $('#signin-token').value = '';
    $('#signin-error').textContent = message || '';
    if (message) announce(message);
    $('#signin-org').focus();
  }

  async function onSignIn(ev) {
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
    session = { org, token };
    try {
      await api('GET', orgPath('/integrations'), undefined, { signingIn: true });
    } catch (e) {
      session = null;
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
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    $('#signin-token').value = '';
    showSignedIn();
    announce(`Signed in to ${org}`);
    route(true);
  }

  // ---------- views ----------

  const VIEWS = ['deploys', 'projects', 'integrations'];
  let current = null;

  function route(focus) {
    if (!session) return;
    let name = (location.hash.match(/^#\/([a-z]+)/) || [])[1];
    if (!VIEWS.includes(name)) name = 'deploys';
    current = name;
    for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
    for (const a of document.querySelectorAll('.sidebar a')) {
      if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    stopPolling();
    if (focus) {
      const heading = $(`#${name}-title`);
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
    if (name === 'integrations') loadIntegrations();
    else if (name === 'projects') loadProjects();
    else loadDeploys(true);
  }

  function skeletons(container, n, cls) {
    clear(container);
    container.setAttribute('aria-busy', 'true');
    for (let i = 0; i < n; i++) {
      container.append(h(container.tagName === 'OL' ? 'li' : 'div', { class: `card skeleton ${cls || ''}`, 'aria-hidden': 'true' },
        h('span', { class: 'sk-line sk-title' }), h('span', { class: 'sk-line' }), h('span', { class: 'sk-line sk-short' })));
    }
  }

  function loadError(container, e, retry) {
    clear(container);
    container.setAttribute('aria-busy', 'false');
    container.append(h('div', { class: 'card notice notice-error', role: 'alert' },
      h('p', {}, `Could not load: ${e.message}`),
      h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry')));
  }

  // ---------- tabs (WAI-ARIA tabs pattern, automatic activation) ----------

  function wireTabs(tablist, onSelect) {
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

  // ---------- Integrations ----------

  const flash = {}; // provider id -> {kind, text}, shown in the card after re-render

  async function loadIntegrations() {
    const box = $('#integration-cards');
    if (!box.querySelector('.integration')) skeletons(box, 1, 'sk-integration');
    let providers, integrations, projects;
    try {
      [providers, integrations, projects] = await Promise.all([
        api('GET', '/api/v1/providers'),
        api('GET', orgPath('/integrations')),
        api('GET', orgPath('/projects')),
      ]);
    } catch (e) {
      if (session) loadError(box, e, loadIntegrations);
      return;
    }
    if (current !== 'integrations') return;
    const byId = new Map(integrations.integrations.map((i) => [i.provider, i]));
    clear(box);
    box.setAttribute('aria-busy', 'false');
    if (providers.providers.length === 0) {
      box.append(h('p', { class: 'card notice' }, 'No build provider plugin is loaded on this server.'));
    }
    for (const p of providers.providers) {
      box.append(integrationCard(p, byId.get(p.id), projects.projects));
    }
  }

  function integrationCard(p, integ, projects) {
    const enabled = !!(integ && integ.enabled);
    const titleId = `int-${p.id}-title`;
    const card = h('article', { class: 'card integration', id: `int-${p.id}`, 'aria-labelledby': titleId });
    const state = !enabled ? 'disabled' : integ.status === 'needs_attention' ? 'needs_attention' : 'enabled';
    card.append(h('header', { class: 'card-head' },
      h('h2', { id: titleId, tabindex: '-1' }, p.name),
      h('span', { class: `badge badge-int-${state}` },
        state === 'disabled' ? 'Disabled' : state === 'enabled' ? 'Enabled' : 'Needs attention'),
      h('span', { class: 'muted small' }, `plugin ${p.id} v${p.version}`)));

    const msg = h('p', { class: 'card-msg', role: 'status' });
    const f = flash[p.id];
    if (f) {
      msg.textContent = f.text;
      msg.classList.add(f.kind === 'error' ? 'msg-error' : 'msg-ok');
    }
    card.append(msg);

    if (enabled) card.append(enabledBody(p, integ, projects));
    else card.append(disabledBody(p, integ));
    return card;
  }

  function setFlash(pid, kind, text) {
    flash[pid] = { kind, text };
    announce(text);
  }

  function disabledBody(p, integ) {
    const body = h('div', { class: 'card-body' });
    const formId = `int-${p.id}-enable`;
    const tokenId = `${formId}-token`;
    const urlId = `${formId}-url`;
    const err = h('p', { class: 'form-error', role: 'alert' });
    const tokenInput = h('input', { id: tokenId, name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': `${tokenId}-hint` });
    const urlInput = h('input', { id: urlId, name: 'base_url', type: 'url', inputmode: 'url', spellcheck: 'false', placeholder: (integ && integ.base_url) || p.default_base_url || '', 'aria-describedby': `${urlId}-hint` });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, `Enable ${p.name}`);
    const form = h('form', { class: 'form', id: formId, hidden: true, novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: tokenId }, `${p.name} API token`),
        tokenInput,
        h('small', { id: `${tokenId}-hint`, class: 'hint' },
          'A personal API token. Don’t have one? ',
          p.token_help_url
            ? h('a', { href: p.token_help_url, target: '_blank', rel: 'noopener noreferrer' }, 'Generate a token', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'))
            : null,
          p.token_help_url ? ' (opens in a new tab).' : '')),
      h('div', { class: 'field' },
        h('label', { for: urlId }, 'Base URL ', h('span', { class: 'muted' }, '(optional)')),
        urlInput,
        h('small', { id: `${urlId}-hint`, class: 'hint' }, `Only for a self-hosted ${p.name} server; leave empty for ${p.default_base_url || 'the default'}.`)),
      err,
      h('div', { class: 'actions' },
        submit,
        h('button', { type: 'button', class: 'btn', onclick: () => { form.hidden = true; openBtn.hidden = false; openBtn.setAttribute('aria-expanded', 'false'); openBtn.focus(); } }, 'Cancel')));
    const openBtn = h('button', {
      type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false', 'aria-controls': formId,
      onclick: () => { form.hidden = false; openBtn.hidden = true; openBtn.setAttribute('aria-expanded', 'true'); tokenInput.focus(); },
    }, 'Enable');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      const token = tokenInput.value.trim();
      if (!token) {
        err.textContent = `Paste a ${p.name} API token.`;
        tokenInput.focus();
        return;
      }
      const payload = { token };
      if (urlInput.value.trim()) payload.base_url = urlInput.value.trim();
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      submit.textContent = 'Checking the token…';
      try {
        await api('PUT', orgPath(`/integrations/${enc(p.id)}`), payload);
      } catch (e) {
        submit.disabled = false;
        form.setAttribute('aria-busy', 'false');
        submit.textContent = `Enable ${p.name}`;
        err.textContent = e.message;
        tokenInput.setAttribute('aria-invalid', 'true');
        tokenInput.focus();
        return;
      }
      tokenInput.value = '';
      setFlash(p.id, 'ok', `${p.name} enabled`);
      await loadIntegrations();
      focusCard(p.id);
    });
    body.append(
      h('p', {}, `Not enabled. Enable ${p.name} with an API token to capture its builds for your deploys.`),
      h('div', { class: 'actions' }, openBtn),
      form);
    return body;
  }

  function focusCard(pid) {
    const t = document.getElementById(`int-${pid}-title`);
    if (t) t.focus();
  }

  function enabledBody(p, integ, projects) {
    const body = h('div', { class: 'card-body' });
    const using = integ.default_build_server_for || [];
    body.append(h('dl', { class: 'facts' },
      h('dt', {}, 'Account'),
      h('dd', {}, integ.account ? `${integ.account.login}${integ.account.name && integ.account.name !== integ.account.login ? ` (${integ.account.name})` : ''}` : '—'),
      h('dt', {}, 'Server'),
      h('dd', {}, h('code', {}, integ.base_url || '')),
      h('dt', {}, 'Default build server for'),
      h('dd', {}, using.length ? using.join(', ') : 'no project yet')));
    if (integ.status === 'needs_attention') {
      body.append(h('p', { class: 'notice notice-warn' },
        `Needs attention: ${integ.last_error || 'the last call to the provider failed'}. Enable again with a new token to fix it.`));
    }

    // Set default build server
    const selId = `int-${p.id}-project`;
    const err = h('p', { class: 'form-error', role: 'alert' });
    const select = h('select', { id: selId, name: 'project', required: true, 'aria-describedby': `${selId}-hint` },
      h('option', { value: '' }, projects.length ? 'Choose a project…' : 'No projects yet'));
    let blocked = 0;
    for (const pr of projects) {
      const noCd = pr.code_deployments.length === 0;
      const mine = pr.build_server === p.id;
      let label = `${pr.name} (${pr.slug})`;
      if (noCd) { label += ' — add a code deployment first'; blocked++; }
      else if (mine) label += ` — already uses ${p.name}`;
      else if (pr.build_server) label += ` — now uses ${pr.build_server}`;
      select.append(h('option', { value: pr.slug, disabled: noCd || mine }, label));
    }
    const setBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Set');
    const form = h('form', { class: 'form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: selId }, 'Set default build server'),
        h('div', { class: 'inline-controls' }, select, setBtn),
        h('small', { id: `${selId}-hint`, class: 'hint' },
          `${p.name} becomes the build server of the chosen project: its deploys get a Builds tab with ${p.name}'s builds.`,
          blocked ? [' A project needs a code deployment before it can be chosen: ', h('a', { href: '#/projects' }, 'add one under Projects'), '.'] : null)),
      err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      if (!select.value) {
        err.textContent = 'Choose a project.';
        select.focus();
        return;
      }
      const project = select.value;
      setBtn.disabled = true;
      try {
        await api('PUT', orgPath(`/integrations/${enc(p.id)}/default-build-server`), { project });
      } catch (e) {
        setBtn.disabled = false;
        err.textContent = e.message;
        select.focus();
        return;
      }
      setFlash(p.id, 'ok', `${p.name} is now the default build server for ${project}`);
      await loadIntegrations();
      focusCard(p.id);
    });
    body.append(form);

    if (using.length) {
      const usingId = `int-${p.id}-using`;
      body.append(h('h3', { id: usingId, class: 'subhead' }, `Projects using ${p.name}`));
      body.append(h('ul', { class: 'using', 'aria-labelledby': usingId }, using.map((slug) => h('li', {},
        h('span', {}, slug),
        h('button', {
          type: 'button', class: 'btn btn-quiet', 'aria-label': `Stop using ${p.name} for ${slug}`,
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await api('DELETE', orgPath(`/integrations/${enc(p.id)}/default-build-server/${enc(slug)}`));
              setFlash(p.id, 'ok', `${slug} no longer uses ${p.name}`);
            } catch (e) {
              setFlash(p.id, 'error', e.message);
            }
            await loadIntegrations();
            focusCard(p.id);
          },
        }, 'Stop using')))));
    }

    // Disable, with an in-place confirmation
    const confirmId = `int-${p.id}-confirm`;
    const disableBtn = h('button', { type: 'button', class: 'btn btn-danger-quiet', 'aria-expanded': 'false', 'aria-controls': confirmId }, 'Disable');
    const confirmBox = h('div', { id: confirmId, class: 'confirm', hidden: true },
      h('p', {}, `Disabling erases the token and removes ${p.name} from every project of ${session.org}. Snapshots already captured stay readable.`),
      h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'btn btn-danger',
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await api('DELETE', orgPath(`/integrations/${enc(p.id)}`));
              setFlash(p.id, 'ok', `${p.name} disabled`);
            } catch (e) {
              setFlash(p.id, 'error', e.message);
            }
            await loadIntegrations();
            focusCard(p.id);
          },
        }, `Disable ${p.name}`),
        h('button', { type: 'button', class: 'btn', onclick: () => { confirmBox.hidden = true; disableBtn.setAttribute('aria-expanded', 'false'); disableBtn.focus(); } }, 'Cancel')));
    disableBtn.addEventListener('click', () => {
      confirmBox.hidden = false;
      disableBtn.setAttribute('aria-expanded', 'true');
      confirmBox.querySelector('.btn-danger').focus();
    });
    body.append(h('div', { class: 'actions danger-zone' }, disableBtn), confirmBox);
    return body;
  }

  // ---------- Projects ----------

  async function loadProjects() {
    const box = $('#project-list');
    if (!box.querySelector('.project')) skeletons(box, 2, 'sk-project');
    let data;
    try {
      data = await api('GET', orgPath('/projects'));
    } catch (e) {
      if (session) loadError(box, e, loadProjects);
      return;
    }
    if (current !== 'projects') return;
    clear(box);
    box.setAttribute('aria-busy', 'false');
    if (data.projects.length === 0) {
      box.append(h('p', { class: 'card notice' }, 'No projects yet. Add one below, then give it a code deployment (the repository and branch you deploy).'));
    }
    for (const p of data.projects) box.append(projectCard(p));
  }

  function field(id, label, input, hint) {
    input.id = id;
    if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
    return h('div', { class: 'field' }, h('label', { for: id }, ...[].concat(label)), input,
      hint ? h('small', { class: 'hint', id: `${id}-hint` }, hint) : null);
  }

  function projectCard(p) {
    const titleId = `proj-${p.slug}-title`;
    const card = h('article', { class: 'card project', id: `proj-${p.slug}`, 'aria-labelledby': titleId });
    card.append(h('header', { class: 'card-head' },
      h('h2', { id: titleId, tabindex: '-1' }, p.name, ' ', h('code', { class: 'muted small' }, p.slug)),
      p.build_server
        ? h('span', { class: 'badge badge-int-enabled' }, `Build server: ${p.build_server}`)
        : h('span', { class: 'badge badge-int-disabled' }, 'No build server')));
    if (p.code_deployments.length === 0) {
      card.append(h('p', { class: 'notice notice-warn' },
        'No code deployment yet: add the repository and branch you deploy, so deploys can be matched to builds and a build server can be set.'));
    } else {
      card.append(h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', { class: 'visually-hidden' }, `Code deployments of ${p.name}`),
        h('thead', {}, h('tr', {}, ['Code deployment', 'Repository', 'Branch', 'Build project'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, p.code_deployments.map((cd) => h('tr', {},
          h('td', {}, h('code', {}, cd.slug)),
          h('td', { class: 'wrap' }, cd.repo_url),
          h('td', {}, cd.branch),
          h('td', {}, cd.build_project ? h('code', {}, cd.build_project) : h('span', { class: 'muted' }, 'from the repository URL'))))))));
    }
    const base = `cd-${p.slug}`;
    const err = h('p', { class: 'form-error', role: 'alert' });
    const slug = h('input', { name: 'slug', required: true, spellcheck: 'false', autocapitalize: 'none', value: p.code_deployments.length ? '' : 'production' });
    const repo = h('input', { name: 'repo_url', type: 'url', inputmode: 'url', required: true, spellcheck: 'false' });
    const branch = h('input', { name: 'branch', required: true, spellcheck: 'false', value: 'main' });
    const buildProject = h('input', { name: 'build_project', spellcheck: 'false', autocapitalize: 'none' });
    const form = h('form', { class: 'form', novalidate: true },
      h('div', { class: 'field-row' },
        field(`${base}-slug`, 'Slug', slug),
        field(`${base}-branch`, 'Branch', branch)),
      field(`${base}-repo`, 'Repository URL', repo, 'For example the GitHub or Bitbucket URL of the repository.'),
      field(`${base}-bp`, ['Build project ', h('span', { class: 'muted' }, '(optional)')], buildProject,
        'The CI project, such as gh/acme/api, when it can’t be derived from the repository URL.'),
      err,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add code deployment'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      const body = { slug: slug.value.trim(), repo_url: repo.value.trim(), branch: branch.value.trim() };
      if (buildProject.value.trim()) body.build_project = buildProject.value.trim();
      const missing = [[slug, 'slug'], [repo, 'repository URL'], [branch, 'branch']].find(([i]) => !i.value.trim());
      if (missing) {
        err.textContent = `Enter the ${missing[1]}.`;
        missing[0].focus();
        return;
      }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        await api('POST', orgPath(`/projects/${enc(p.slug)}/code-deployments`), body);
      } catch (e) {
        btn.disabled = false;
        err.textContent = e.message;
        return;
      }
      announce(`Code deployment ${body.slug} added to ${p.slug}`);
      await loadProjects();
      const t = document.getElementById(titleId);
      if (t) t.focus();
    });
    card.append(h('details', { class: 'add-cd', open: p.code_deployments.length === 0 },
      h('summary', {}, 'Add a code deployment'), form));
    return card;
  }

  async function onAddProject(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const err = form.querySelector('.form-error');
    err.textContent = '';
    const slug = $('#project-slug').value.trim();
    const name = $('#project-name').value.trim();
    if (!SLUG_RE.test(slug)) {
      err.textContent = 'The slug is lower-case letters, digits and dashes, starting with a letter or digit.';
      $('#project-slug').focus();
      return;
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await api('POST', orgPath('/projects'), name ? { slug, name } : { slug });
    } catch (e) {
      err.textContent = e.message;
      btn.disabled = false;
      return;
    }
    btn.disabled = false;
    form.reset();
    announce(`Project ${slug} added`);
    await loadProjects();
    const t = document.getElementById(`proj-${slug}-title`);
    if (t) t.focus();
  }

  // ---------- Deploys ----------

  let pollTimer = null;
  const deployCards = new Map(); // id -> {el, key, render}

  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function schedulePoll(anyPending) {
    stopPolling();
    if (current !== 'deploys' || !session) return;
    pollTimer = setTimeout(() => loadDeploys(false), anyPending ? POLL_PENDING_MS : POLL_IDLE_MS);
  }

  const providerNames = new Map(); // provider id -> display name

  async function loadProviderNames() {
    if (providerNames.size) return;
    try {
      const data = await api('GET', '/api/v1/providers');
      for (const p of data.providers) providerNames.set(p.id, p.name);
    } catch { /* ids are shown instead */ }
  }

  const providerName = (id) => providerNames.get(id) || id;

  async function loadFilterProjects() {
    const sel = $('#deploy-filter');
    try {
      const data = await api('GET', orgPath('/projects'));
      const keep = sel.value;
      while (sel.options.length > 1) sel.remove(1);
      for (const p of data.projects) sel.append(h('option', { value: p.slug }, p.name));
      sel.value = [...sel.options].some((o) => o.value === keep) ? keep : '';
    } catch { /* the list below reports errors */ }
  }

  async function loadDeploys(fresh) {
    const list = $('#deploy-list');
    if (!fresh && document.hidden) {
      // Not visible: look again later (visibilitychange also refreshes at once).
      schedulePoll(true);
      return;
    }
    if (fresh) {
      if (!list.querySelector('.deploy')) skeletons(list, 3, 'sk-deploy');
      loadFilterProjects();
      await loadProviderNames();
    }
    const project = $('#deploy-filter').value;
    let data;
    try {
      data = await api('GET', orgPath(`/deploys?limit=50${project ? `&project=${enc(project)}` : ''}`));
    } catch (e) {
      if (!session) return;
      if (!list.querySelector('.deploy')) loadError(list, e, () => loadDeploys(true));
      $('#deploys-updated').textContent = `Could not refresh: ${e.message}`;
      schedulePoll(true);
      return;
    }
    if (current !== 'deploys' || project !== $('#deploy-filter').value) return;
    renderDeploys(data.deploys);
    for (const el of document.querySelectorAll('#deploy-list .rel')) el.textContent = ` (${relative(el.dataset.t)})`;
    $('#deploys-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    schedulePoll(data.deploys.some((d) => d.builds.state === 'pending'));
  }

  function renderDeploys(deploys) {
    const list = $('#deploy-list');
    list.setAttribute('aria-busy', 'false');
    for (const sk of list.querySelectorAll(':scope > .skeleton, :scope > .notice')) sk.remove();
    const seen = new Set();
    let prev = null;
    for (const d of deploys) {
      seen.add(d.id);
      let entry = deployCards.get(d.id);
      if (!entry || !list.contains(entry.el)) {
        entry = deployCard(d);
        deployCards.set(d.id, entry);
      } else {
        entry.update(d);
      }
      // keep newest-first order without re-creating cards (focus, open tabs survive)
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== entry.el) list.insertBefore(entry.el, want);
      prev = entry.el;
    }
    for (const [id, entry] of deployCards) {
      if (!seen.has(id)) {
        entry.el.remove();
        deployCards.delete(id);
      }
    }
    if (deploys.length === 0) {
      list.append(h('li', { class: 'card notice' },
        'No deploys yet. Register one from your deploy script: ',
        h('code', {}, `POST /api/v1/orgs/${session.org}/projects/{project}/deploys {"sha": "…"}`)));
    }
  }

  function summaryWord(snap) {
    if (snap.state === 'complete') return snap.summary;
    return snap.state; // pending, no_build_server, error
  }

  function deployCard(d) {
    const base = `deploy-${d.id}`;
    const el = h('li', { class: 'card deploy', id: base, 'aria-labelledby': `${base}-title` });
    const head = h('header', { class: 'card-head deploy-head' });
    const tabBuilds = h('button', { type: 'button', role: 'tab', id: `${base}-tab-builds`, 'aria-controls': `${base}-builds`, 'aria-selected': 'true', tabindex: '0' }, 'Builds');
    const tabDetails = h('button', { type: 'button', role: 'tab', id: `${base}-tab-details`, 'aria-controls': `${base}-details`, 'aria-selected': 'false', tabindex: '-1' }, 'Details');
    const tablist = h('div', { class: 'tabs tabs-small', role: 'tablist', 'aria-label': `Deploy ${d.id}` }, tabBuilds, tabDetails);
    const builds = h('div', { id: `${base}-builds`, role: 'tabpanel', 'aria-labelledby': tabBuilds.id, tabindex: '0', class: 'panel' });
    const details = h('div', { id: `${base}-details`, role: 'tabpanel', 'aria-labelledby': tabDetails.id, tabindex: '0', class: 'panel', hidden: true });
    el.append(head, tablist, builds, details);
    wireTabs(tablist);
    const entry = { el, key: '' };
    entry.update = (dep) => {
      const key = JSON.stringify(dep);
      if (key === entry.key) return;
      const wasPending = entry.key && JSON.parse(entry.key).builds.state === 'pending';
      entry.key = key;
      renderDeployHead(head, dep, base);
      renderBuilds(builds, dep);
      renderDetails(details, dep);
      if (wasPending && dep.builds.state !== 'pending') {
        announce(`Deploy of ${dep.project} ${dep.sha.slice(0, 7)}: builds captured, ${STATUS_LABEL[summaryWord(dep.builds)] || summaryWord(dep.builds)}`);
      }
    };
    entry.update(d);
    return entry;
  }

  function renderDeployHead(head, d, base) {
    clear(head);
    head.append(
      h('h2', { id: `${base}-title`, class: 'deploy-title' },
        h('span', {}, d.project),
        h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → '),
        h('span', { class: 'visually-hidden' }, ' to '),
        h('span', { class: 'env' }, d.environment)),
      badge(summaryWord(d.builds), 'Builds'),
      h('p', { class: 'deploy-meta' },
        h('code', { class: 'sha', title: d.sha }, d.sha.slice(0, 7)),
        h('span', { class: 'dot', 'aria-hidden': 'true' }, '·'),
        timeEl(d.deployed_at),
        h('span', { class: 'muted rel', 'data-t': d.deployed_at }, ` (${relative(d.deployed_at)})`)));
  }

  function renderBuilds(panel, d) {
    const snap = d.builds;
    clear(panel);
    panel.append(h('p', { class: 'asof' }, 'Builds as they stood at ', timeEl(snap.as_of), ' (deploy time)',
      snap.captured_at ? [', captured ', timeEl(snap.captured_at)] : null, '.'));
    if (snap.state === 'pending') {
      panel.append(h('div', { class: 'pending', role: 'status' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        h('span', {}, `Capturing the builds of ${d.sha.slice(0, 7)} as of deploy time… This refreshes by itself.`)));
      panel.append(h('ul', { class: 'builds', 'aria-hidden': 'true' },
        [0, 1].map(() => h('li', { class: 'build skeleton' }, h('span', { class: 'sk-line sk-title' }), h('span', { class: 'sk-line sk-short' })))));
      return;
    }
    if (snap.state === 'no_build_server') {
      panel.append(h('p', { class: 'notice' },
        snap.explain || `Project ${d.project} had no build server when this deploy was registered.`,
        ' ', h('a', { href: '#/integrations' }, 'Set a default build server'), ' for future deploys.'));
      return;
    }
    if (snap.state === 'error') {
      panel.append(h('p', { class: 'notice notice-error' }, snap.explain || 'The builds could not be captured.'));
      return;
    }
    const list = Array.isArray(snap.builds) ? snap.builds : [];
    if (list.length === 0) {
      panel.append(h('p', { class: 'notice explain' }, snap.explain || 'No builds matched this deploy.'));
      return;
    }
    panel.append(h('ul', { class: 'builds' }, list.map((b) => buildItem(b, snap.as_of))));
    if (snap.build_project) {
      panel.append(h('p', { class: 'muted small' }, `From ${snap.provider ? providerName(snap.provider) : 'the build server'} project `, h('code', {}, snap.build_project), '.'));
    }
  }

  function buildItem(b, asOf) {
    const jobs = Array.isArray(b.jobs) ? b.jobs : [];
    const li = h('li', { class: 'build' });
    li.append(h('div', { class: 'build-row' },
      badge(b.status, 'Status'),
      h('strong', { class: 'build-name' }, b.name),
      h('span', { class: 'muted' }, b.pipeline_number != null ? `pipeline #${b.pipeline_number}` : ''),
      b.branch ? h('span', { class: 'muted' }, b.branch) : (b.tag ? h('span', { class: 'muted' }, `tag ${b.tag}`) : null),
      h('span', { class: 'duration', title: 'Run time as of deploy time' }, runTime(b.created_at, b.stopped_at, asOf)),
      b.current_status && b.current_status !== b.status
        ? h('span', { class: 'now' }, 'now ', badge(b.current_status, 'Current status'))
        : null,
      b.url ? h('a', { href: b.url, target: '_blank', rel: 'noopener noreferrer', class: 'ext' },
        'CircleCI', h('span', { class: 'visually-hidden' }, ` build ${b.name} of pipeline ${b.pipeline_number} (opens in a new tab)`)) : null));
    if (jobs.length) {
      li.append(h('details', { class: 'jobs' },
        h('summary', {}, `${jobs.length} job${jobs.length === 1 ? '' : 's'}`, h('span', { class: 'visually-hidden' }, ` of ${b.name}`)),
        h('ul', {}, jobs.map((j) => h('li', { class: 'job' },
          badge(j.status, 'Status'),
          h('span', { class: 'job-name' }, j.name),
          h('span', { class: 'duration' }, j.started_at ? runTime(j.started_at, j.stopped_at, asOf) : 'not started'),
          j.url ? h('a', { href: j.url, target: '_blank', rel: 'noopener noreferrer', class: 'ext' },
            'logs', h('span', { class: 'visually-hidden' }, ` of job ${j.name} (opens in a new tab)`)) : null)))));
    }
    return li;
  }

  function renderDetails(panel, d) {
    const s = d.builds;
    clear(panel);
    const rows = [
      ['Deploy', `#${d.id}`],
      ['Commit', h('code', { class: 'wrap' }, d.sha)],
      ['Code deployment', d.code_deployment],
      ['Environment', d.environment],
      ['Deployed at', timeEl(d.deployed_at)],
      ['Snapshot', s.state],
      ['Build server', s.provider ? providerName(s.provider) : '—'],
      ['Build project', s.build_project || '—'],
      ['Captured at', s.captured_at ? timeEl(s.captured_at) : '—'],
    ];
    panel.append(h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  }

  // ---------- start ----------

  document.addEventListener('DOMContentLoaded', () => {
    $('#signin-form').addEventListener('submit', onSignIn);
    $('#signout').addEventListener('click', () => signOut('Signed out.'));
    $('#project-form').addEventListener('submit', onAddProject);
    $('#deploy-filter').addEventListener('change', () => {
      for (const e of deployCards.values()) e.el.remove();
      deployCards.clear();
      loadDeploys(true);
    });
    wireTabs($('#view-integrations [role=tablist]'));
    window.addEventListener('hashchange', () => route(true));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && current === 'deploys' && session) loadDeploys(false);
    });
    if (session && session.org && session.token) {
      showSignedIn();
      route(false);
    } else {
      session = null;
      $('#signin-org').focus();
    }
  });
})();
