// The Projects view: projects with their code deployments, and the forms
// that add either.

import { SLUG_RE } from '../api.js';
import { $, announce, clear, field, focusId, h, loadError, skeletons } from '../dom.js';
import { handled } from '../session.js';
import { state } from '../state.js';

const enc = encodeURIComponent;

/** Loads and paints the view (a newer refresh supersedes this one). */
export async function loadProjects() {
  const box = $('#project-list');
  if (!box.querySelector('.project')) skeletons(box, 2, 'sk-project');
  const c = state.client;
  try {
    await state.refresh.run((signal) => c.get(c.orgPath('/projects'), { signal }), (data) => paint(box, data));
  } catch (e) {
    if (!handled(e)) loadError(box, e, loadProjects);
  }
}

function paint(box, data) {
  if (state.view !== 'projects') return;
  clear(box);
  box.setAttribute('aria-busy', 'false');
  if (data.projects.length === 0) {
    box.append(h('p', { class: 'card notice' }, 'No projects yet. Add one below, then give it a code deployment (the repository and branch you deploy).'));
  }
  for (const p of data.projects) box.append(projectCard(p));
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
      await state.client.post(state.client.orgPath(`/projects/${enc(p.slug)}/code-deployments`), body);
    } catch (e) {
      if (handled(e)) return;
      btn.disabled = false;
      err.textContent = e.message;
      return;
    }
    announce(`Code deployment ${body.slug} added to ${p.slug}`);
    await loadProjects();
    focusId(titleId);
  });
  card.append(h('details', { class: 'add-cd', open: p.code_deployments.length === 0 },
    h('summary', {}, 'Add a code deployment'), form));
  return card;
}

/** The "Add a project" form's submit handler. */
export async function onAddProject(ev) {
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
    await state.client.post(state.client.orgPath('/projects'), name ? { slug, name } : { slug });
  } catch (e) {
    if (handled(e)) return;
    err.textContent = e.message;
    btn.disabled = false;
    return;
  }
  btn.disabled = false;
  form.reset();
  announce(`Project ${slug} added`);
  await loadProjects();
  focusId(`proj-${slug}-title`);
}
