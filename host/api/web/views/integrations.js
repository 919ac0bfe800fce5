// The Integrations view: one card per loaded provider plugin, to enable it,
// set the projects it is the default build server for, and disable it.

import { $, clear, focusId, h, loadError, skeletons } from '../dom.js';
import { clearFlash, setFlash, showFlash } from '../flash.js';
import { handled } from '../session.js';
import { state } from '../state.js';
import { loadAlertHooks } from './alerts.js';

const enc = encodeURIComponent;

/** Loads and paints the view (a newer refresh supersedes this one). */
export async function loadIntegrations() {
  const box = $('#integration-cards');
  if (!box.querySelector('.integration')) skeletons(box, 1, 'sk-integration');
  const c = state.client;
  try {
    await state.refresh.run(
      (signal) => Promise.all([
        c.get('/api/v1/providers', { signal }),
        c.get(c.orgPath('/integrations'), { signal }),
        c.get(c.orgPath('/projects'), { signal }),
      ]),
      (answers) => paint(box, ...answers));
  } catch (e) {
    if (!handled(e)) loadError(box, e, loadIntegrations);
  }
  loadAlertHooks();
}

function paint(box, providers, integrations, projects) {
  if (state.view !== 'integrations') return;
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
  const shown = !enabled ? 'disabled' : integ.status === 'needs_attention' ? 'needs_attention' : 'enabled';
  card.append(h('header', { class: 'card-head' },
    h('h2', { id: titleId, tabindex: '-1' }, p.name),
    h('span', { class: `badge badge-int-${shown}` },
      shown === 'disabled' ? 'Disabled' : shown === 'enabled' ? 'Enabled' : 'Needs attention'),
    h('span', { class: 'muted small' }, `plugin ${p.id} v${p.version} · contract ${p.api_version}`)));

  const msg = h('p', { class: 'card-msg', role: 'status' });
  showFlash(msg, p.id);
  card.append(msg);

  if (enabled) card.append(enabledBody(p, integ, projects));
  else card.append(disabledBody(p, integ));
  return card;
}

function disabledBody(p, integ) {
  const body = h('div', { class: 'card-body' });
  const formId = `int-${p.id}-enable`;
  const tokenId = `${formId}-token`;
  const urlId = `${formId}-url`;
  const err = h('p', { class: 'form-error', role: 'alert' });
  const tokenInput = h('input', { id: tokenId, name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': `${tokenId}-hint` });
  // Enabling again keeps the server it was enabled with (a self-hosted one,
  // the demo's simulator) as the field's value, not only as a placeholder:
  // an empty field means the provider's default, which may be unreachable.
  const previous = integ && integ.base_url && integ.base_url !== p.default_base_url ? integ.base_url : '';
  const urlInput = h('input', { id: urlId, name: 'base_url', type: 'url', inputmode: 'url', spellcheck: 'false', value: previous, placeholder: p.default_base_url || '', 'aria-describedby': `${urlId}-hint` });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, `Enable ${p.name}`);
  const helpLink = h('a', { href: p.token_help_url, target: '_blank', rel: 'noopener noreferrer' }, 'Generate a token', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'));
  // A self-hosted server (GitHub Enterprise, self-managed GitLab) has its
  // own token page: the plugin says where, for the base URL as typed.
  const followBase = async () => {
    const base = urlInput.value.trim();
    if (!p.token_help_url) return;
    if (!base) { helpLink.href = p.token_help_url; return; }
    try {
      const r = await state.client.get(`/api/v1/providers/${enc(p.id)}/token-help-url?base_url=${enc(base)}`);
      if (urlInput.value.trim() === base) helpLink.href = r.token_help_url;
    } catch (e) {
      if (!handled(e)) helpLink.href = p.token_help_url;
    }
  };
  urlInput.addEventListener('change', followBase);
  if (previous) followBase();
  const form = h('form', { class: 'form', id: formId, hidden: true, novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: tokenId }, `${p.name} API token`),
      tokenInput,
      h('small', { id: `${tokenId}-hint`, class: 'hint' },
        'A personal API token. Don’t have one? ',
        p.token_help_url ? helpLink : null,
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
    clearFlash();
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
      await state.client.put(state.client.orgPath(`/integrations/${enc(p.id)}`), payload);
    } catch (e) {
      if (handled(e)) return;
      submit.disabled = false;
      form.setAttribute('aria-busy', 'false');
      submit.textContent = `Enable ${p.name}`;
      if (e.code === 'provider_unreachable') {
        // One line a person can act on; the resolver's or socket's words
        // stay available behind a toggle for whoever debugs the network.
        const where = payload.base_url || p.default_base_url || 'its default address';
        clear(err);
        err.append(
          `Could not reach ${p.name} at ${where}. Check the base URL, or that this server may reach it. `,
          h('details', { class: 'error-detail' },
            h('summary', {}, 'Technical detail'),
            h('code', {}, e.message)));
        urlInput.setAttribute('aria-invalid', 'true');
        urlInput.focus();
        return;
      }
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
  focusId(`int-${pid}-title`);
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
    clearFlash();
    err.textContent = '';
    if (!select.value) {
      err.textContent = 'Choose a project.';
      select.focus();
      return;
    }
    const project = select.value;
    setBtn.disabled = true;
    try {
      await state.client.put(state.client.orgPath(`/integrations/${enc(p.id)}/default-build-server`), { project });
    } catch (e) {
      if (handled(e)) return;
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
          clearFlash();
          ev.currentTarget.disabled = true;
          try {
            await state.client.delete(state.client.orgPath(`/integrations/${enc(p.id)}/default-build-server/${enc(slug)}`));
            setFlash(p.id, 'ok', `${slug} no longer uses ${p.name}`);
          } catch (e) {
            if (handled(e)) return;
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
    h('p', {}, `Disabling erases the token and removes ${p.name} from every project of ${state.session.org}. Snapshots already captured stay readable.`),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: 'btn btn-danger',
        onclick: async (ev) => {
          clearFlash();
          ev.currentTarget.disabled = true;
          try {
            await state.client.delete(state.client.orgPath(`/integrations/${enc(p.id)}`));
            setFlash(p.id, 'ok', `${p.name} disabled`);
          } catch (e) {
            if (handled(e)) return;
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
