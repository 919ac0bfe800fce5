// `buildsnap demo` end to end: one command, then sign in with what it prints
// and see deploys whose Builds tabs fill in from the in-process simulator.

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
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CAPTURE_TIMEOUT = Number(process.env.E2E_CAPTURE_TIMEOUT_MS || 60000);
const SHOTS = path.resolve(here, '..', 'screenshots');

let demo;
let out = '';
let ctx;
let page;
let profile;
let dataDir;
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

async function printed(re, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const m = out.match(re);
    if (m) return m[1];
    if (demo.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the demo did not print ${what}; output:\n${out.slice(-3000)}`);
}

describe('buildsnap demo', () => {
  before(async () => {
    assert.ok(fs.existsSync(BUILDSNAP_BIN), `${BUILDSNAP_BIN} not found; build it first (run.sh does)`);
    const port = await freePort();
    dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'buildsnap-demo-e2e-')), 'data');
    demo = spawn(BUILDSNAP_BIN, ['demo', '--listen', `127.0.0.1:${port}`, '--deploy-every', '2', '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout.on('data', (d) => { out += d; });
    demo.stderr.on('data', (d) => { out += d; });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'buildsnap-demo-e2e-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(15000);
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    if (ctx) await ctx.close().catch(() => {});
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await new Promise((r) => { demo.once('exit', r); setTimeout(r, 10000); });
    }
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('prints how to sign in, and the page shows a stream of captured deploys', async () => {
    const url = await printed(/Open:\s+(\S+)/, 'the URL');
    const org = await printed(/Org slug:\s+(\S+)/, 'the org slug');
    const token = await printed(/Org token:\s+(\S+)/, 'the org token');
    assert.equal(org, 'demo');
    await printed(/(deploy #\d+: )/, 'a registered deploy');

    await page.goto(url);
    await page.getByLabel('Organisation slug').fill(org);
    await page.getByLabel('Org token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Deploys' }).waitFor();

    // Several deploys, newest first, and at least one with captured builds.
    await page.locator('li.deploy').nth(2).waitFor();
    await page.locator('li.deploy .build:not(.skeleton)').first().waitFor({ timeout: CAPTURE_TIMEOUT });
    const times = await page.locator('li.deploy .deploy-meta time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
    // By time, not by text: `…:22Z` is older than `…:22.9Z` but sorts after it.
    const instant = (t) => {
      const [whole, frac = ''] = t.replace(/Z$/, '').split('.');
      return `${whole}.${frac.padEnd(9, '0')}`;
    };
    const sorted = [...times].sort((a, b) => (instant(a) < instant(b) ? 1 : instant(a) > instant(b) ? -1 : 0));
    assert.deepEqual(times, sorted, 'deploys are newest first');
    // The list refreshes by itself: a deploy registered later shows up without a reload.
    const before = await page.locator('li.deploy').count();
    await page.locator('li.deploy').nth(before).waitFor({ timeout: 30000 });
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'demo-deploys.png') });

    // Integrations: CircleCI enabled, default build server of api and web;
    // GitHub Actions of site; billing can't be chosen.
    await page.getByRole('link', { name: 'Integrations', exact: true }).click();
    const byName = (name) => page.locator('article.integration', { has: page.getByRole('heading', { name, exact: true }) });
    const card = byName('CircleCI');
    await card.getByText('Enabled', { exact: true }).waitFor();
    assert.match(await card.innerText(), /api, web/);
    const gh = byName('GitHub Actions');
    await gh.getByText('Enabled', { exact: true }).waitFor();
    assert.match(await gh.locator('dl.facts').innerText(), /site/);
    const billing = card.getByLabel('Set default build server').locator('option[value="billing"]');
    assert.equal(await billing.isDisabled(), true);
    await page.screenshot({ path: path.join(SHOTS, 'demo-integrations.png') });
    assert.deepEqual(pageErrors, []);
  });

  it('stops cleanly on Ctrl-C', async () => {
    demo.kill('SIGINT');
    const code = await new Promise((r) => demo.once('exit', (c) => r(c)));
    assert.equal(code, 0, out.slice(-2000));
    assert.match(out, /stopping/);
  });
});
