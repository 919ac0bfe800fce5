// buildsnap's web page end to end: the real `buildsnap serve` binary and the
// CircleCI and GitHub simulator binaries on 127.0.0.1, driven through
// headless Chromium.
//
// Env: BUILDSNAP_BIN, CIRCLECI_SIM_BIN, GITHUB_SIM_BIN (default: target/debug/...), CHROMIUM
// (default /usr/bin/chromium), E2E_CAPTURE_TIMEOUT_MS (default 60000).
// Screenshots go to tests/web-e2e/screenshots/.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const BUILDSNAP_BIN = process.env.BUILDSNAP_BIN ? path.resolve(process.env.BUILDSNAP_BIN) : path.join(root, 'target', 'debug', 'buildsnap');
const SIM_BIN = process.env.CIRCLECI_SIM_BIN ? path.resolve(process.env.CIRCLECI_SIM_BIN) : path.join(root, 'target', 'debug', 'circleci-sim');
const SCENARIO = path.join(root, 'host', 'simulators', 'circleci', 'scenarios', 'demo.json');
const GH_SIM_BIN = process.env.GITHUB_SIM_BIN ? path.resolve(process.env.GITHUB_SIM_BIN) : path.join(root, 'target', 'debug', 'github-sim');
// github-sim --demo: octocat's token, member of acme (repository acme/api).
const GH_TOKEN = 'demo-token-octocat';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CAPTURE_TIMEOUT = Number(process.env.E2E_CAPTURE_TIMEOUT_MS || 60000);
const SHOTS = path.resolve(here, '..', 'screenshots');

const ADMIN = `e2e-admin-${Math.random().toString(16).slice(2)}${Date.now()}`;
const ORG = 'e2e';
const SIM_TOKEN = 'demo-token-alice';
// demo.json: gh/acme/api pipelines 1 (build: success) and 3 (nightly: success)
// are of this commit; the clock starts at 2025-06-01T12:00:00Z.
const SHA = 'e00dcbd6facc5d2d9da1eee11a20fe7165aedc96';
const DEPLOYED_AT = '2025-06-01T12:00:30Z';

const procs = [];
const tmpDirs = [];
let simBase;
let ghBase;
// Granted to the server, but nothing listens there: "unreachable".
let deadBase;
let base;
let orgToken;
let ctx;
let page;
let deployId;
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(name, bin, args, env) {
  if (!fs.existsSync(bin)) throw new Error(`${name}: ${bin} not found; build it first (tests/web-e2e/run.sh does)`);
  const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  p.stdout.on('data', (d) => log.push(String(d)));
  p.stderr.on('data', (d) => log.push(String(d)));
  p.on('exit', (code, sig) => log.push(`[${name} exited: ${code ?? sig}]`));
  procs.push({ name, p, log });
  return p;
}

async function waitFor(url, what) {
  const deadline = Date.now() + 30000;
  let last;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const logs = procs.map((x) => `--- ${x.name}\n${x.log.join('').slice(-3000)}`).join('\n');
  throw new Error(`${what} did not come up at ${url}: ${last}\n${logs}`);
}

async function api(method, p, token, body) {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Polls `cond` every 50 ms until it holds, at most 10 s. */
async function waitUntil(cond, what) {
  for (let i = 0; i < 200; i += 1) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function shot(name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const card = (name) => page.locator('article.integration', { has: page.getByRole('heading', { name, exact: true }) });

async function goTo(section) {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: section, exact: true }).waitFor();
}

describe('buildsnap web page', () => {
  before(async () => {
    const simPort = await freePort();
    simBase = `http://127.0.0.1:${simPort}`;
    start('circleci-sim', SIM_BIN, ['--scenario', SCENARIO, '--listen', `127.0.0.1:${simPort}`], {});
    await waitFor(`${simBase}/_sim/health`, 'the CircleCI simulator');
    const ghPort = await freePort();
    ghBase = `http://127.0.0.1:${ghPort}`;
    start('github-sim', GH_SIM_BIN, ['--demo', '--listen', `127.0.0.1:${ghPort}`], {});
    await waitFor(`${ghBase}/_sim/health`, 'the GitHub simulator');
    deadBase = `http://127.0.0.1:${await freePort()}`;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'buildsnap-e2e-'));
    tmpDirs.push(data);
    start('buildsnap', BUILDSNAP_BIN, ['serve'], {
      BUILDSNAP_LISTEN: `127.0.0.1:${port}`,
      BUILDSNAP_DATA_DIR: data,
      BUILDSNAP_ALLOW_HOSTS: `${simBase},${ghBase},${deadBase}`,
      BUILDSNAP_ADMIN_TOKEN: ADMIN,
      BUILDSNAP_LOG: 'info',
    });
    await waitFor(`${base}/healthz`, 'buildsnap');

    let r = await api('POST', '/api/v1/orgs', ADMIN, { slug: ORG, name: 'E2E Inc.' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api('POST', `/api/v1/orgs/${ORG}/tokens`, ADMIN, { name: 'browser', scope: 'all' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    orgToken = r.body.token;

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'buildsnap-e2e-chromium-'));
    tmpDirs.push(profile);
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(10000);
    // CSP violations and script errors show up here.
    // (The deliberately wrong tokens' 401 and 422 are expected, and the
    // unreachable base URL's 502.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: .* status of (401|422|502) /.test(m.text())) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // Nothing but the server itself may be contacted.
    page.on('request', (req) => {
      if (!req.url().startsWith(base) && !req.url().startsWith('data:')) pageErrors.push(`request to ${req.url()}`);
    });
  });

  after(async () => {
    if (ctx) await ctx.close().catch(() => {});
    for (const { p } of procs) if (p.exitCode === null) p.kill('SIGTERM');
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('signs in with an org token (a wrong one is refused in place)', async () => {
    await page.goto(`${base}/`);
    assert.equal(await page.title(), 'buildsnap');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('01-sign-in');
    await page.getByLabel('Organisation slug').fill(ORG);
    await page.getByLabel('Org token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That token was not accepted' }).waitFor();
    await page.getByLabel('Org token').fill(orgToken);
    await page.getByLabel('Org token').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Deploys' }).waitFor();
    assert.match(await page.locator('#session').innerText(), new RegExp(ORG));
    const stored = await page.evaluate(() => sessionStorage.getItem('buildsnap.session'));
    assert.equal(JSON.parse(stored).org, ORG);
    // A reload keeps the session (sessionStorage), and the token is not in the URL.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Deploys' }).waitFor();
    assert.ok(!page.url().includes(orgToken));
  });

  it('enables CircleCI: a wrong token shows the provider\'s reason, the right one "CircleCI enabled"', async () => {
    await goTo('Integrations');
    const c = card('CircleCI');
    await c.getByText('Disabled', { exact: true }).waitFor();
    await c.getByRole('button', { name: 'Enable', exact: true }).click();
    const providers = await api('GET', '/api/v1/providers', orgToken);
    const help = providers.body.providers.find((p) => p.id === 'circleci').token_help_url;
    const link = c.getByRole('link', { name: /generate/i });
    assert.equal(await link.getAttribute('href'), help);
    assert.equal(await link.getAttribute('target'), '_blank');

    await c.getByLabel('CircleCI API token').fill('wrong-token');
    await c.getByLabel(/Base URL/).fill(simBase);
    await c.getByRole('button', { name: 'Enable CircleCI' }).click();
    const err = c.getByRole('alert');
    await err.filter({ hasText: 'rejected the token' }).waitFor();
    const shown = await err.innerText();
    // The same words the API gives (422 invalid_credentials).
    const direct = await api('PUT', `/api/v1/orgs/${ORG}/integrations/circleci`, orgToken, { token: 'wrong-token', base_url: simBase });
    assert.equal(direct.status, 422);
    assert.equal(direct.body.error.code, 'invalid_credentials');
    assert.equal(shown.trim(), direct.body.error.message);

    await c.getByLabel('CircleCI API token').fill(SIM_TOKEN);
    await c.getByRole('button', { name: 'Enable CircleCI' }).click();
    await c.getByRole('status').filter({ hasText: 'CircleCI enabled' }).waitFor();
    await c.getByText('Enabled', { exact: true }).waitFor();
    assert.match(await c.innerText(), /alice/);
    assert.equal(await page.locator('#announce').innerText(), 'CircleCI enabled');
    await shot('02-integrations-enabled');
  });

  it('adds a project; without a code deployment it cannot be chosen as build server yet', async () => {
    await goTo('Projects');
    await page.getByLabel('Slug', { exact: true }).first().waitFor();
    const form = page.locator('#project-form');
    await form.getByLabel('Slug').fill('api');
    await form.getByLabel(/Name/).fill('API');
    await form.getByRole('button', { name: 'Add project' }).click();
    const proj = page.locator('article.project', { has: page.getByRole('heading', { name: /API/ }) });
    await proj.getByText('No code deployment yet', { exact: false }).waitFor();

    await goTo('Integrations');
    const select = card('CircleCI').getByLabel('Set default build server');
    const option = select.locator('option[value="api"]');
    assert.equal(await option.isDisabled(), true);
    assert.match(await option.innerText(), /add a code deployment first/);
  });

  it('adds a code deployment and sets CircleCI as the default build server', async () => {
    await goTo('Projects');
    const proj = page.locator('article.project', { has: page.getByRole('heading', { name: /API/ }) });
    const f = proj.locator('details.add-cd form');
    await f.getByLabel('Slug').fill('production');
    await f.getByLabel('Repository URL').fill('https://github.com/acme/api');
    await f.getByLabel('Branch').fill('main');
    await f.getByLabel(/Build project/).fill('gh/acme/api');
    await f.getByRole('button', { name: 'Add code deployment' }).click();
    await proj.getByRole('cell', { name: 'gh/acme/api' }).waitFor();
    await shot('03-projects');

    await goTo('Integrations');
    const c = card('CircleCI');
    const select = c.getByLabel('Set default build server');
    assert.equal(await select.locator('option[value="api"]').isDisabled(), false);
    await select.selectOption('api');
    await c.getByRole('button', { name: 'Set', exact: true }).click();
    await c.getByRole('status').filter({ hasText: 'CircleCI is now the default build server for api' }).waitFor();
    const r = await api('GET', `/api/v1/orgs/${ORG}/projects`, orgToken);
    assert.equal(r.body.projects.find((p) => p.slug === 'api').build_server, 'circleci');
  });

  it('enables GitHub Actions beside CircleCI, each the build server of its own project', async () => {
    let r = await api('POST', `/api/v1/orgs/${ORG}/projects`, orgToken, { slug: 'site', name: 'Site' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api('POST', `/api/v1/orgs/${ORG}/projects/site/code-deployments`, orgToken,
      { slug: 'production', repo_url: 'https://github.com/acme/api', branch: 'main' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await goTo('Integrations');
    const g = card('GitHub Actions');
    await g.getByRole('button', { name: 'Enable', exact: true }).click();
    await g.getByLabel('GitHub Actions API token').fill(GH_TOKEN);
    // An Enterprise server's base URL: the token link moves to its host.
    const link = g.getByRole('link', { name: /Generate a token/ });
    assert.equal(await link.getAttribute('href'), 'https://github.com/settings/personal-access-tokens');
    await g.getByLabel(/Base URL/).fill(`${ghBase}/api/v3`);
    await g.getByLabel(/Base URL/).dispatchEvent('change');
    const want = `${ghBase}/settings/personal-access-tokens`;
    for (let i = 0; (await link.getAttribute('href')) !== want; i++) {
      assert.ok(i < 100, `token link still ${await link.getAttribute('href')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // An address nothing answers at: one line to act on, the detail folded.
    await g.getByLabel(/Base URL/).fill(deadBase);
    await g.getByRole('button', { name: 'Enable GitHub Actions' }).click();
    const err = g.getByRole('alert');
    await err.getByText(`Could not reach GitHub Actions at ${deadBase}.`, { exact: false }).waitFor();
    const detail = err.locator('details');
    assert.equal(await detail.getAttribute('open'), null, 'the technical detail starts folded');
    await detail.getByText('Technical detail').click();
    assert.match(await detail.locator('code').innerText(), /could not reach GitHub Actions/);
    await shot('03b-unreachable');

    await g.getByLabel(/Base URL/).fill(ghBase);
    await g.getByRole('button', { name: 'Enable GitHub Actions' }).click();
    await g.getByText('Enabled', { exact: true }).waitFor();
    await card('CircleCI').getByText('Enabled', { exact: true }).waitFor();
    const select = g.getByLabel('Set default build server');
    await select.selectOption('site');
    await g.getByRole('button', { name: 'Set', exact: true }).click();
    await g.getByRole('status').filter({ hasText: 'GitHub Actions is now the default build server for site' }).waitFor();
    assert.match(await g.locator('dl.facts').innerText(), /site/);
    await shot('03c-two-providers');
    r = await api('GET', `/api/v1/orgs/${ORG}/projects`, orgToken);
    const bySlug = Object.fromEntries(r.body.projects.map((p) => [p.slug, p.build_server]));
    assert.equal(bySlug.api, 'circleci');
    assert.equal(bySlug.site, 'github-actions');
    r = await api('GET', '/api/v1/providers', orgToken);
    const versions = Object.fromEntries(r.body.providers.map((p) => [p.id, p.api_version]));
    assert.equal(versions['github-actions'], '0.2.0');
  });

  it('a flash clears on the next action, on navigation, and by itself', async () => {
    await goTo('Integrations');
    const c = card('CircleCI');
    const status = c.getByRole('status');
    const select = c.getByLabel('Set default build server');
    const setBtn = c.getByRole('button', { name: 'Set', exact: true });

    // The next action clears it, even one that ends in a form error.
    await c.getByRole('button', { name: 'Stop using CircleCI for api' }).click();
    await status.filter({ hasText: 'api no longer uses CircleCI' }).waitFor();
    await setBtn.click();
    await c.getByRole('alert').filter({ hasText: 'Choose a project.' }).waitFor();
    assert.equal((await status.innerText()).trim(), '');

    // Navigating away and back clears it.
    await select.selectOption('api');
    await setBtn.click();
    await status.filter({ hasText: 'CircleCI is now the default build server for api' }).waitFor();
    await goTo('Projects');
    await goTo('Integrations');
    await c.getByText('Enabled', { exact: true }).waitFor();
    assert.equal((await card('CircleCI').getByRole('status').innerText()).trim(), '');

    // Left alone, it goes after a while (FLASH_MS, 8 s), not at once.
    await c.getByRole('button', { name: 'Stop using CircleCI for api' }).click();
    await status.filter({ hasText: 'api no longer uses CircleCI' }).waitFor();
    await select.selectOption('api');
    await setBtn.click();
    const shown = status.filter({ hasText: 'CircleCI is now the default build server for api' });
    await shown.waitFor();
    const seen = Date.now();
    await shown.waitFor({ state: 'detached', timeout: 15000 });
    const lasted = Date.now() - seen;
    assert.ok(lasted > 3000, `the flash vanished after ${lasted} ms`);
    assert.equal((await status.innerText()).trim(), '');
    const r = await api('GET', `/api/v1/orgs/${ORG}/projects`, orgToken);
    assert.equal(r.body.projects.find((p) => p.slug === 'api').build_server, 'circleci');
  });

  it('shows a registered deploy, pending at first', async () => {
    // Slow down the simulator's first answer so the capture stays pending a while.
    const f = await fetch(`${simBase}/_sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: '/api/v2/*', fault: { kind: 'latency', ms: 5000 }, times: 1 }),
    });
    assert.equal(f.status, 200, await f.text());
    const r = await api('POST', `/api/v1/orgs/${ORG}/projects/api/deploys`, orgToken,
      { sha: SHA, environment: 'production', deployed_at: DEPLOYED_AT });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.builds.state, 'pending', JSON.stringify(r.body));
    deployId = r.body.id;
    await goTo('Deploys');
    const d = page.locator(`#deploy-${deployId}`);
    await d.waitFor();
    const text = await d.innerText();
    assert.match(text, /api/);
    assert.match(text, /production/);
    assert.match(text, new RegExp(SHA.slice(0, 7)));
    // Either still capturing (the pending state) or already captured.
    const tab = d.getByRole('tab', { name: 'Builds' });
    assert.equal(await tab.getAttribute('aria-selected'), 'true');
    const panel = d.getByRole('tabpanel');
    const pending = panel.getByRole('status').filter({ hasText: 'Capturing the builds' });
    await pending.waitFor();
    assert.match(await d.locator('.card-head .badge').innerText(), /capturing/);
    await shot('04-deploy-pending');
    // The Details tab by keyboard (arrow keys move between tabs).
    await tab.focus();
    await page.keyboard.press('ArrowRight');
    const details = d.getByRole('tab', { name: 'Details' });
    assert.equal(await details.getAttribute('aria-selected'), 'true');
    assert.match(await d.getByRole('tabpanel').innerText(), new RegExp(SHA));
    await page.keyboard.press('ArrowLeft');
    assert.equal(await tab.getAttribute('aria-selected'), 'true');
  });

  it('fills in the deploy\'s Builds tab once the snapshot is captured', async () => {
    const d = page.locator(`#deploy-${deployId}`);
    try {
      await d.locator('.build:not(.skeleton)').first().waitFor({ timeout: CAPTURE_TIMEOUT });
    } catch (e) {
      await shot('05-builds-timeout');
      const r = await api('GET', `/api/v1/orgs/${ORG}/deploys/${deployId}/builds`, orgToken);
      throw new Error(`no builds shown after ${CAPTURE_TIMEOUT} ms; snapshot: ${JSON.stringify(r.body)}`);
    }
    const snap = (await api('GET', `/api/v1/orgs/${ORG}/deploys/${deployId}/builds`, orgToken)).body;
    assert.equal(snap.state, 'complete');
    assert.ok(snap.builds.length > 0);
    const items = d.locator('.build:not(.skeleton)');
    assert.equal(await items.count(), snap.builds.length);
    const first = snap.builds[0];
    const row = items.first();
    const rowText = await row.innerText();
    assert.match(rowText, new RegExp(first.name));
    assert.match(rowText, new RegExp(`pipeline #${first.pipeline_number}`));
    assert.equal(await row.getByRole('link', { name: /CircleCI/ }).getAttribute('href'), first.url);
    // summary badge in the card head, as-of time
    assert.match(await d.locator('.card-head .badge').innerText(), new RegExp(snap.summary === 'none' ? 'no builds' : snap.summary.replace('_', ' ')));
    assert.match(await d.locator('.asof time').first().getAttribute('datetime'), /^2025-06-01T12:00:30/);
    if (first.jobs.length) {
      await row.locator('details.jobs summary').click();
      await row.locator('.job').first().waitFor();
      assert.equal(await row.locator('.job').count(), first.jobs.length);
    }
    await shot('05-deploy-builds');
  });

  it('a refresh overtaken by a newer one is aborted and never paints', async () => {
    await goTo('Projects');
    // Hold the unfiltered list the Deploys view asks for when opened.
    let arrived;
    const held = new Promise((resolve) => { arrived = resolve; });
    const listUrl = (u) => u.pathname === `/api/v1/orgs/${ORG}/deploys`;
    const hold = (route) => {
      if (new URL(route.request().url()).searchParams.has('project')) return route.continue();
      arrived(route);
      return undefined;
    };
    await page.route(listUrl, hold);
    try {
      await goTo('Deploys');
      const older = await held;
      const aborted = page.waitForEvent('requestfailed', (req) => req === older.request());
      // The user picks a project while the first list is still out.
      await page.locator('#deploy-filter').selectOption('api');
      await page.locator(`#deploy-${deployId} .build:not(.skeleton)`).first().waitFor();
      const failed = await aborted;
      assert.match(failed.failure().errorText, /ABORTED/i);
      // Its answer, if it came now, is stale: it must not reach the page.
      await older.fulfill({
        json: { deploys: [{ id: 999999, project: 'stale', environment: 'stale', sha: 'f'.repeat(40), deployed_at: DEPLOYED_AT, code_deployment: 'production', builds: { state: 'pending' } }] },
      }).catch(() => { /* the page already dropped the request */ });
      assert.equal(await page.locator('#deploy-999999').count(), 0);
      assert.equal(await page.locator('#deploy-filter').inputValue(), 'api');
    } finally {
      await page.unroute(listUrl, hold);
    }
    await page.locator('#deploy-filter').selectOption('');
    await page.locator(`#deploy-${deployId}`).waitFor();

    // The slot itself: an older answer that arrives after a newer one (its
    // abort came too late to stop it) is dropped, and its signal was aborted.
    const r = await page.evaluate(async () => {
      const { Aborted, Latest } = await import('/assets/refresh.js');
      const slot = new Latest();
      const painted = [];
      let release;
      let oldSignal;
      const old = slot.run((signal) => {
        oldSignal = signal;
        return new Promise((resolve) => { release = () => resolve('old'); });
      }, (v) => painted.push(v));
      await slot.run(async () => 'new', (v) => painted.push(v));
      release();
      const outcome = await old.then(() => 'painted', (e) => (e instanceof Aborted ? 'aborted' : String(e)));
      return { painted, outcome, abortedSignal: oldSignal.aborted };
    });
    assert.deepEqual(r, { painted: ['new'], outcome: 'aborted', abortedSignal: true });
  });

  it('polls with the list\'s ETag (a 304 repaints nothing) and pages in older deploys by cursor', async () => {
    // A project without a build server: its deploys are final at once.
    let r = await api('POST', `/api/v1/orgs/${ORG}/projects`, orgToken, { slug: 'batch', name: 'Batch' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api('POST', `/api/v1/orgs/${ORG}/projects/batch/code-deployments`, orgToken,
      { slug: 'main', repo_url: 'https://github.com/acme/batch', branch: 'main' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    for (let i = 0; i < 55; i += 1) {
      const at = new Date(Date.parse('2025-05-01T00:00:00Z') + i * 60000).toISOString();
      r = await api('POST', `/api/v1/orgs/${ORG}/projects/batch/deploys`, orgToken, { sha: SHA, deployed_at: at });
      assert.equal(r.status, 202, JSON.stringify(r.body));
    }
    await goTo('Projects');
    await goTo('Deploys');
    await page.locator('#deploy-filter option[value="batch"]').waitFor({ state: 'attached' });
    const lists = [];
    const onResponse = (resp) => {
      const u = new URL(resp.url());
      if (u.pathname === `/api/v1/orgs/${ORG}/deploys` && u.searchParams.get('project') === 'batch') {
        lists.push({ cursor: u.searchParams.get('cursor'), status: resp.status(), etag: resp.headers().etag, sent: resp.request().headers()['if-none-match'] });
      }
    };
    page.on('response', onResponse);
    try {
      await page.locator('#deploy-filter').selectOption('batch');
      const cards = page.locator('#deploy-list > .deploy');
      await page.waitForFunction(() => document.querySelectorAll('#deploy-list > .deploy').length === 50);
      const older = page.getByRole('button', { name: 'Show older deploys' });
      await older.waitFor();
      // A poll (visibilitychange refreshes at once) sends the tag it got and gets a 304.
      const first = lists.at(-1);
      assert.equal(first.status, 200);
      assert.ok(first.etag, 'the list answer is tagged');
      const newest = await cards.first().getAttribute('id');
      await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
      await waitUntil(() => lists.length > 1 && lists.at(-1).status === 304, 'a 304 poll');
      assert.equal(lists.at(-1).sent, first.etag);
      assert.equal(await cards.count(), 50);
      assert.equal(await cards.first().getAttribute('id'), newest);

      // Older deploys: the next page by cursor, appended; then no more.
      await older.click();
      await page.waitForFunction(() => document.querySelectorAll('#deploy-list > .deploy').length === 55);
      assert.ok(lists.some((l) => l.cursor), 'asked by cursor');
      await older.waitFor({ state: 'hidden' });
      const ids = await cards.evaluateAll((els) => els.map((e) => Number(e.id.replace('deploy-', ''))));
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first, older appended in order');

      // A new deploy changes the list: the next poll gets a 200 and paints it
      // on top; the older cards stay.
      r = await api('POST', `/api/v1/orgs/${ORG}/projects/batch/deploys`, orgToken, { sha: SHA, deployed_at: '2025-05-02T00:00:00Z' });
      const added = r.body.id;
      await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
      await page.locator(`#deploy-${added}`).waitFor();
      assert.equal(await cards.first().getAttribute('id'), `deploy-${added}`);
      assert.equal(await cards.count(), 56);
      assert.equal(lists.at(-1).status, 200);
    } finally {
      page.off('response', onResponse);
    }
    await page.locator('#deploy-filter').selectOption('');
    await page.locator(`#deploy-${deployId}`).waitFor();
  });

  it('shows alert hooks with how their deliveries went, and marks deploys whose builds failed since', async () => {
    // The simulator's origin is granted; it answers 404 to the hook path,
    // so the delivery is retried, and the page says so.
    let r = await api('POST', `/api/v1/orgs/${ORG}/alert-hooks`, orgToken,
      { url: `${simBase}/hooks/buildsnap-alerts`, events: ['snapshot.completed'], secret: 'a-secret-of-enough-length' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const hookId = r.body.id;
    r = await api('POST', `/api/v1/orgs/${ORG}/projects/api/deploys`, orgToken, { sha: SHA, deployed_at: DEPLOYED_AT });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const deploy = r.body.id;
    for (let i = 0; i < 600; i += 1) {
      const d = await api('GET', `/api/v1/orgs/${ORG}/alert-hooks/${hookId}/deliveries`, orgToken);
      if (d.body.deliveries.some((x) => x.deploy_id === deploy && x.attempts > 0)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await goTo('Integrations');
    const hook = page.locator(`#hook-${hookId}`);
    await hook.waitFor();
    assert.match(await hook.innerText(), /…/, 'the URL is masked');
    assert.ok(!(await hook.innerText()).includes('buildsnap-alerts'), 'the full URL is not shown');
    const item = hook.locator('.delivery').filter({ hasText: `for deploy ${deploy}` });
    await item.waitFor();
    assert.match(await item.innerText(), /snapshot\.completed for deploy \d+: retrying: HTTP 404, 1 attempt/);
    await shot('07-alert-hooks');

    // The deploy mark, on the page's own module.
    const marks = await page.evaluate(async () => {
      const { sinceDeploy } = await import('/assets/format.js');
      const snap = (builds) => ({ state: 'complete', builds });
      return [
        sinceDeploy(snap([{ status: 'running', current_status: 'failed' }, { status: 'success' }])),
        sinceDeploy(snap([{ status: 'running', current_status: 'success' }])),
        sinceDeploy(snap([{ status: 'success' }, { status: 'running', current_status: 'running' }])),
        sinceDeploy({ state: 'pending', builds: [] }),
      ];
    });
    assert.deepEqual(marks, ['failed_since', 'changed_since', null, null]);
  });

  it('disables CircleCI: "CircleCI disabled", and no project uses it any more', async () => {
    await goTo('Integrations');
    const c = card('CircleCI');
    await c.getByRole('button', { name: 'Disable', exact: true }).click();
    await c.getByRole('button', { name: 'Disable CircleCI' }).click();
    await c.getByRole('status').filter({ hasText: 'CircleCI disabled' }).waitFor();
    await c.getByText('Disabled', { exact: true }).waitFor();
    await c.getByRole('button', { name: 'Enable', exact: true }).waitFor();
    // Enabling again starts from the server it was enabled with, as a value.
    await c.getByRole('button', { name: 'Enable', exact: true }).click();
    assert.equal(await c.getByLabel(/Base URL/).inputValue(), simBase);
    await c.getByRole('button', { name: 'Cancel', exact: true }).click();
    const r = await api('GET', `/api/v1/orgs/${ORG}/projects`, orgToken);
    assert.equal(r.body.projects.find((p) => p.slug === 'api').build_server, null);
    // GitHub Actions is untouched: disabling removes one provider only.
    assert.equal(r.body.projects.find((p) => p.slug === 'site').build_server, 'github-actions');
    // The deploy stays readable.
    const d = await api('GET', `/api/v1/orgs/${ORG}/deploys/${deployId}`, orgToken);
    assert.equal(d.status, 200);
    assert.equal(d.body.builds.state, 'complete');

    // A deploy registered now has no build server, and its card says why.
    const r2 = await api('POST', `/api/v1/orgs/${ORG}/projects/api/deploys`, orgToken, { sha: SHA.slice(0, 7), environment: 'staging' });
    assert.equal(r2.status, 202, JSON.stringify(r2.body));
    assert.equal(r2.body.builds.state, 'no_build_server');
    await goTo('Deploys');
    const card2 = page.locator(`#deploy-${r2.body.id}`);
    await card2.waitFor();
    assert.equal(await page.locator('li.deploy').first().getAttribute('id'), `deploy-${r2.body.id}`, 'newest first');
    assert.match(await card2.locator('.card-head .badge').innerText(), /no build server/);
    const panel = card2.getByRole('tabpanel');
    assert.match(await panel.innerText(), /had no build server/);
    assert.equal(await panel.getByRole('link', { name: 'Set a default build server' }).getAttribute('href'), '#/integrations');
    // The earlier deploy's snapshot is still shown.
    await page.locator(`#deploy-${deployId} .build:not(.skeleton)`).first().waitFor();
  });

  it('fits a narrow screen without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    for (const section of ['Deploys', 'Projects', 'Integrations']) {
      await goTo(section);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${section} overflows by ${overflow}px at 375px`);
    }
    await goTo('Deploys');
    await shot('06-narrow-deploys');
  });

  it('a refused token signs out through the explicit path; Sign out too', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    const signedOut = async (message) => {
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.locator('#signin-error').filter({ hasText: message }).waitFor();
      assert.equal(await page.locator('#app-view').isHidden(), true);
      assert.equal(await page.locator('#session').isHidden(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('buildsnap.session')), null);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-org');
    };
    const signIn = async () => {
      await page.getByLabel('Organisation slug').fill(ORG);
      await page.getByLabel('Org token').fill(orgToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Deploys' }).waitFor();
    };
    const refused = 'Your token is no longer accepted. Sign in again.';

    // Mid-session: the next refresh is answered 401, as for a revoked token.
    await goTo('Deploys');
    const listUrl = (u) => u.pathname === `/api/v1/orgs/${ORG}/deploys`;
    const refuse = (route) => route.fulfill({ status: 401, json: { error: { code: 'unauthorized', message: 'revoked' } } });
    await page.route(listUrl, refuse);
    await page.locator('#deploy-filter').selectOption('api');
    await signedOut(refused);
    await page.unroute(listUrl, refuse);
    await signIn();

    // At start: the tab's stored token is refused by the server itself.
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('buildsnap.session'));
      sessionStorage.setItem('buildsnap.session', JSON.stringify({ ...s, token: 'no-longer-valid' }));
    });
    await page.reload();
    await signedOut(refused);
    await signIn();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signedOut('Signed out.');
    await signIn();
  });

  it('made no requests elsewhere and logged no errors (CSP included)', () => {
    assert.deepEqual(pageErrors, []);
  });
});
