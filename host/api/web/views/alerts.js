// Alert hooks under the Integrations view: each hook of the org (its URL
// masked, as the API shows it) with its latest deliveries and how they went.
// Hooks are added through the API (docs/http-api.md "Deploy alerts").

import { $, clear, h } from '../dom.js';
import { timeEl } from '../format.js';
import { handled } from '../session.js';
import { state } from '../state.js';

/** Latest deliveries shown per hook. */
const SHOWN = 5;

/** Loads and paints the org's alert hooks into `#alert-hooks`. */
export async function loadAlertHooks() {
  const box = $('#alert-hooks');
  const c = state.client;
  if (!box || !c) return;
  try {
    const { alert_hooks: hooks } = await c.get(c.orgPath('/alert-hooks'));
    const deliveries = await Promise.all(hooks.map((hk) =>
      c.get(c.orgPath(`/alert-hooks/${hk.id}/deliveries?limit=${SHOWN}`)).then((d) => d.deliveries)));
    if (state.view !== 'integrations') return;
    paint(box, hooks, deliveries);
  } catch (e) {
    if (handled(e)) return;
    clear(box);
    box.append(h('p', { class: 'card notice' }, `Could not load alert hooks: ${e.message}`));
  }
}

function paint(box, hooks, deliveries) {
  clear(box);
  if (hooks.length === 0) {
    box.append(h('p', { class: 'muted' }, 'No alert hooks. Add one with ',
      h('code', {}, `POST /api/v1/orgs/${state.session.org}/alert-hooks`), '.'));
    return;
  }
  hooks.forEach((hk, i) => box.append(hookCard(hk, deliveries[i])));
}

function hookCard(hk, deliveries) {
  const titleId = `hook-${hk.id}-title`;
  return h('article', { class: 'card alert-hook', id: `hook-${hk.id}`, 'aria-labelledby': titleId },
    h('header', { class: 'card-head' },
      h('h3', { id: titleId }, h('code', {}, hk.url)),
      h('span', { class: 'muted' }, `${hk.format} · ${hk.events.join(', ')}`)),
    deliveries.length === 0
      ? h('p', { class: 'muted' }, 'No deliveries yet.')
      : h('ul', { class: 'deliveries', 'aria-label': 'Latest deliveries' }, deliveries.map(deliveryItem)));
}

/** One delivery: event, deploy, outcome. */
function deliveryItem(d) {
  let outcome;
  if (d.state === 'delivered') outcome = `delivered (HTTP ${d.last_status})`;
  else if (d.state === 'failed') outcome = `gave up after ${d.attempts} attempts (${d.last_error || 'failed'})`;
  else if (d.attempts === 0) outcome = 'queued';
  else outcome = `retrying: ${d.last_error || `HTTP ${d.last_status}`}, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`;
  return h('li', { class: `delivery delivery-${d.state}` },
    h('span', { class: 'event' }, d.event), ' for deploy ', h('span', {}, String(d.deploy_id)), ': ',
    h('span', { class: 'outcome' }, outcome), ' · ', timeEl(d.created_at));
}
