// buildsnap web page, the entry module: plain DOM, no framework, no build
// step. It wires the sign-in form, the sections (one module per view) and
// the hash router; state lives in state.js, API calls in api.js.

import { $, wireTabs } from './dom.js';
import { clearFlash } from './flash.js';
import { resume, wireSession } from './session.js';
import { state, stopPolling } from './state.js';
import { loadDeploys, loadOlder, onFilterChange } from './views/deploys.js';
import { loadIntegrations } from './views/integrations.js';
import { loadProjects, onAddProject } from './views/projects.js';

const VIEWS = { deploys: () => loadDeploys(true), projects: loadProjects, integrations: loadIntegrations };

/** Shows the view the URL's hash names (Deploys by default) and loads it. */
function route(focus) {
  if (!state.session) return;
  let name = (location.hash.match(/^#\/([a-z]+)/) || [])[1];
  if (!Object.hasOwn(VIEWS, name)) name = 'deploys';
  // Navigating is the next action: the last one's message goes, and the
  // previous view's refresh must not paint.
  clearFlash();
  state.refresh.cancel();
  stopPolling();
  state.view = name;
  for (const v of Object.keys(VIEWS)) $(`#view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll('.sidebar a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (focus) {
    const heading = $(`#${name}-title`);
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
  VIEWS[name]();
}

function start() {
  wireSession(() => route(true));
  $('#project-form').addEventListener('submit', onAddProject);
  $('#deploy-filter').addEventListener('change', onFilterChange);
  $('#deploys-older').addEventListener('click', loadOlder);
  wireTabs($('#view-integrations [role=tablist]'));
  window.addEventListener('hashchange', () => route(true));
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.view === 'deploys' && state.session) loadDeploys(false);
  });
  if (resume()) route(false);
  else $('#signin-org').focus();
}

// Modules run after the document is parsed; the check covers either order.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
