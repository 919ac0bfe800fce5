// The Deploys view: newest deploys first, each a card with its Builds and
// Details tabs; it polls while a capture is pending, updating cards in place.

import { $, announce, clear, h, loadError, skeletons, wireTabs } from '../dom.js';
import { badge, relative, runTime, sinceDeploy, summaryWord, timeEl } from '../format.js';
import { handled } from '../session.js';
import { label } from '../status.js';
import { state, stopPolling } from '../state.js';

const POLL_PENDING_MS = 2500;
const POLL_IDLE_MS = 10000;
const enc = encodeURIComponent;

function schedulePoll(anyPending) {
  stopPolling();
  if (state.view !== 'deploys' || !state.session) return;
  state.pollTimer = setTimeout(() => loadDeploys(false), anyPending ? POLL_PENDING_MS : POLL_IDLE_MS);
}

/** Provider display names, fetched once per session; ids are shown without them. */
async function loadProviderNames(signal) {
  if (state.providerNames.size) return;
  try {
    const data = await state.client.get('/api/v1/providers', { signal });
    for (const p of data.providers) state.providerNames.set(p.id, p.name);
  } catch { /* ids are shown instead */ }
}

const providerName = (id) => state.providerNames.get(id) || id;

/** Fills the project filter; its own refresh slot, so a slow deploy list does not hold it. */
async function loadFilterProjects() {
  const sel = $('#deploy-filter');
  const c = state.client;
  try {
    await state.filterRefresh.run((signal) => c.get(c.orgPath('/projects'), { signal }), (data) => {
      const keep = sel.value;
      while (sel.options.length > 1) sel.remove(1);
      for (const p of data.projects) sel.append(h('option', { value: p.slug }, p.name));
      sel.value = [...sel.options].some((o) => o.value === keep) ? keep : '';
    });
  } catch { /* the list below reports errors */ }
}

/**
 * Loads and paints the deploy list. `fresh`: the view was just opened or
 * the filter changed (skeletons and the filter's projects too); else a
 * poll. A newer call supersedes an older one still in flight.
 */
export async function loadDeploys(fresh) {
  const list = $('#deploy-list');
  if (!fresh && document.hidden) {
    // Not visible: look again later (visibilitychange also refreshes at once).
    schedulePoll(true);
    return;
  }
  stopPolling();
  if (fresh) {
    if (!list.querySelector('.deploy')) skeletons(list, 3, 'sk-deploy');
    loadFilterProjects();
  }
  const c = state.client;
  const path = c.orgPath(`/deploys?limit=${PAGE}${projectQuery()}`);
  const seen = state.deploysSeen;
  // A poll of the list already painted sends its tag: an unchanged list is
  // a 304 with no body and no repaint. A fresh load always repaints.
  const etag = !fresh && seen.path === path ? seen.etag : null;
  try {
    await state.refresh.run(async (signal) => {
      // Names until they are known (a superseded fresh load may not have got them).
      const [answer] = await Promise.all([c.getTagged(path, etag, { signal }), loadProviderNames(signal)]);
      return { path, answer };
    }, paint);
  } catch (e) {
    if (handled(e)) return;
    if (!list.querySelector('.deploy')) loadError(list, e, () => loadDeploys(true));
    $('#deploys-updated').textContent = `Could not refresh: ${e.message}`;
    schedulePoll(true);
  }
}

/** `&project=…` of the filter, or nothing. */
function projectQuery() {
  const project = $('#deploy-filter').value;
  return project ? `&project=${enc(project)}` : '';
}

/** Forgets the cards (the filter changed) and loads afresh. */
export function onFilterChange() {
  for (const e of state.deployCards.values()) e.el.remove();
  state.deployCards.clear();
  state.deploysSeen = { path: null, etag: null, pending: false, older: null, olderShown: false };
  loadDeploys(true);
}

function paint({ path, answer }) {
  if (state.view !== 'deploys') return;
  const seen = state.deploysSeen;
  if (!answer.notModified) {
    const { data } = answer;
    Object.assign(seen, { path, etag: answer.etag, pending: data.deploys.some((d) => d.builds.state === 'pending') });
    // Once older pages are shown, their cursor moves only with them.
    if (!seen.olderShown) seen.older = data.next_cursor;
    renderDeploys(data.deploys, { keepOlder: seen.olderShown });
    showOlderButton();
  }
  for (const el of document.querySelectorAll('#deploy-list .rel')) el.textContent = ` (${relative(el.dataset.t)})`;
  $('#deploys-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  schedulePoll(seen.pending);
}

function showOlderButton() {
  $('#deploys-older').hidden = !state.deploysSeen.older;
}

/**
 * "Show older deploys": the page after the oldest one shown, by its cursor,
 * appended below. Polls keep refreshing only the newest page; the older
 * cards stay as they are (deploys are never removed).
 */
export async function loadOlder() {
  const seen = state.deploysSeen;
  const c = state.client;
  if (!seen.older || !c) return;
  const button = $('#deploys-older');
  button.disabled = true;
  try {
    const data = await c.get(c.orgPath(`/deploys?limit=${PAGE}${projectQuery()}&cursor=${enc(seen.older)}`));
    const list = $('#deploy-list');
    for (const d of data.deploys) {
      if (state.deployCards.has(d.id)) continue;
      const entry = deployCard(d);
      state.deployCards.set(d.id, entry);
      list.append(entry.el);
    }
    seen.older = data.next_cursor;
    seen.olderShown = true;
    showOlderButton();
  } catch (e) {
    if (handled(e)) return;
    $('#deploys-updated').textContent = `Could not load older deploys: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Deploys per page of the list (the API's default). */
const PAGE = 50;

function renderDeploys(deploys, { keepOlder = false } = {}) {
  const list = $('#deploy-list');
  list.setAttribute('aria-busy', 'false');
  for (const sk of list.querySelectorAll(':scope > .skeleton, :scope > .notice')) sk.remove();
  const seen = new Set();
  let prev = null;
  for (const d of deploys) {
    seen.add(d.id);
    let entry = state.deployCards.get(d.id);
    if (!entry || !list.contains(entry.el)) {
      entry = deployCard(d);
      state.deployCards.set(d.id, entry);
    } else {
      entry.update(d);
    }
    // keep newest-first order without re-creating cards (focus, open tabs survive)
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== entry.el) list.insertBefore(entry.el, want);
    prev = entry.el;
  }
  // Without older pages shown, the list is exactly the newest page: a card
  // pushed off it by newer deploys goes. With them, it stays below.
  for (const [id, entry] of state.deployCards) {
    if (!keepOlder && !seen.has(id)) {
      entry.el.remove();
      state.deployCards.delete(id);
    }
  }
  if (deploys.length === 0) {
    list.append(h('li', { class: 'card notice' },
      'No deploys yet. Register one from your deploy script: ',
      h('code', {}, `POST /api/v1/orgs/${state.session.org}/projects/{project}/deploys {"sha": "…"}`)));
  }
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
      announce(`Deploy of ${dep.project} ${dep.sha.slice(0, 7)}: builds captured, ${label(summaryWord(dep.builds))}`);
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
    sinceNote(d.builds),
    h('p', { class: 'deploy-meta' },
      h('code', { class: 'sha', title: d.sha }, d.sha.slice(0, 7)),
      h('span', { class: 'dot', 'aria-hidden': 'true' }, '·'),
      timeEl(d.deployed_at),
      h('span', { class: 'muted rel', 'data-t': d.deployed_at }, ` (${relative(d.deployed_at)})`)));
}

/** The deploy-level mark of builds that moved on since the deploy. */
function sinceNote(snap) {
  const since = sinceDeploy(snap);
  if (since === 'failed_since') {
    return h('span', { class: 'since since-failed', role: 'note' }, 'deployed while running; failed since');
  }
  if (since === 'changed_since') {
    return h('span', { class: 'since', role: 'note' }, 'deployed while running; finished since');
  }
  return null;
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
  const provider = snap.provider ? providerName(snap.provider) : 'the build server';
  if (list.length === 0) {
    panel.append(h('p', { class: 'notice explain' }, snap.explain || 'No builds matched this deploy.'));
  } else {
    panel.append(h('ul', { class: 'builds' }, list.map((b) => buildItem(b, snap.as_of, provider))));
  }
  const later = Array.isArray(snap.later_builds) ? snap.later_builds : [];
  if (later.length) {
    // What ran on the commit since: as it is now, never part of the snapshot.
    panel.append(h('h3', { class: 'since-title' }, 'Since the deploy'),
      h('ul', { class: 'builds later-builds', 'aria-label': 'Builds since the deploy' },
        later.map((b) => buildItem(b, null, provider))));
  }
  if (snap.build_project) {
    panel.append(h('p', { class: 'muted small' }, `From ${provider} project `, h('code', {}, snap.build_project), '.'));
  }
}

function buildItem(b, asOf, provider) {
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
      provider, h('span', { class: 'visually-hidden' }, ` build ${b.name} of pipeline ${b.pipeline_number} (opens in a new tab)`)) : null));
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
