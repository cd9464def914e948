// Drives the analyst console in headless Chromium for tests/tests/console.rs.
//
// Input (environment): CONSOLE_URL, CONSOLE_USER, CONSOLE_TOKEN, SHOTS (directory for the
// screenshots), APPROVE_SRC (the scanner whose block waits for approval), HOSTILE (a JSON
// array of strings that must appear on the page as text), CHROMIUM (default
// /usr/bin/chromium).
// Protocol on stdout: "READY" once signed in (the test then starts the attacks), "PHASE
// history" before it opens the lake's history and "PHASE done" after (the test measures the
// sensor's memory at each), then one "RESULT {json}" line, or "FAIL reason". Exit status 0 only when every check passed.
import { chromium } from 'playwright-core';
import path from 'node:path';

const env = (k, d) => process.env[k] ?? d;
const url = env('CONSOLE_URL');
const shots = env('SHOTS');
const approveSrc = env('APPROVE_SRC');
const hostile = JSON.parse(env('HOSTILE', '[]'));
const TIMEOUT = 90_000;
const result = { screenshots: [] };

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
const dialogs = [];
page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
const consoleErrors = [];
// 401s are expected: the page asks who is signed in before anyone is, and a wrong token.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('401')) consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

async function shot(name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}
async function view(name) {
  await page.click(`#nav a[data-view="${name}"]`);
  await page.waitForSelector(`#view-${name}:not([hidden])`, { timeout: TIMEOUT });
}
const step = (s) => process.stderr.write(`e2e: ${s}\n`);

try {
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])', { timeout: TIMEOUT });
  // A wrong token is refused on the page.
  await page.fill('input[name=user]', env('CONSOLE_USER'));
  await page.fill('input[name=token]', 'not-the-token-0123456789');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0, null, { timeout: TIMEOUT });
  result.wrong_token_message = await page.textContent('#login-error');
  await page.fill('input[name=user]', env('CONSOLE_USER'));
  await page.fill('input[name=token]', env('CONSOLE_TOKEN'));
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#nav:not([hidden])', { timeout: TIMEOUT });
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live', null, { timeout: TIMEOUT });
  // Gone if the page is ever reloaded.
  await page.evaluate(() => { window.__e2eMarker = 'same page'; });
  result.ready_ms = Date.now();
  console.log('READY');

  // 1. The incident of the scan that waits for approval appears without a reload.
  step('waiting for the incident');
  await page.waitForFunction((src) => [...document.querySelectorAll('#incidents-table tbody tr')]
    .some((tr) => tr.textContent.includes(src)), approveSrc, { timeout: TIMEOUT });
  const row = page.locator('#incidents-table tbody tr', { hasText: approveSrc }).first();
  await row.click();
  await page.waitForSelector('#incident-detail .timeline li', { timeout: TIMEOUT });
  await shot('incidents');

  // 2. Approved by a click.
  step('approving');
  await view('approvals');
  const card = page.locator('[data-approval-id]', { hasText: approveSrc }).first();
  await card.waitFor({ timeout: TIMEOUT });
  result.approval_expires_text = await card.locator('.left').textContent();
  await shot('approvals');
  await card.locator('button[data-action=approve]').click();
  await page.waitForFunction((src) => ![...document.querySelectorAll('[data-approval-id]')].some((c) => c.textContent.includes(src)),
    approveSrc, { timeout: TIMEOUT });

  // 3. The block appears on the blocks page.
  step('blocks');
  await view('blocks');
  await page.waitForSelector(`#blocks-table tr[data-cidr="${approveSrc}/32"]`, { timeout: TIMEOUT });
  result.blocks = await page.$$eval('#blocks-table tbody tr', (trs) => trs.map((t) => t.dataset.cidr));
  await shot('blocks');

  // 4. Feedback by a click on the incident: recorded with the user's name.
  step('feedback');
  await view('incidents');
  await page.locator('#incidents-table tbody tr', { hasText: approveSrc }).first().click();
  await page.fill('#incident-detail input[name=note]', 'scan confirmed <b>by e2e</b>');
  await page.click('#incident-detail button[data-action=true-positive]');
  await page.waitForFunction(() => document.getElementById('incident-detail').textContent.includes('true_positive by '), null, { timeout: TIMEOUT });
  result.feedback_text = await page.evaluate(() => [...document.querySelectorAll('#incident-detail dd')].map((d) => d.textContent).find((t) => t.includes('true_positive')));

  // 5. The audit page shows the approval with the user's identity, and the chain verifies.
  step('audit');
  await view('audit');
  const who = `${env('CONSOLE_USER')} (console session from 127.0.0.1)`;
  await page.waitForFunction((w) => [...document.querySelectorAll('#audit-table td.by')].some((td) => td.textContent === w), who, { timeout: TIMEOUT });
  result.audit_status = await page.textContent('#audit-status');
  result.audit_approver = who;
  await shot('audit');

  // 6. Hostile strings from events are on the page as text, and nothing of them ran.
  step('hostile strings');
  await view('incidents');
  const deadline = Date.now() + TIMEOUT;
  const found = new Set();
  while (found.size < hostile.length && Date.now() < deadline) {
    const ids = await page.$$eval('#incidents-table tbody tr', (trs) => trs.map((t) => t.dataset.incidentId));
    for (const id of ids) {
      await page.click(`#incidents-table tr[data-incident-id="${id}"]`);
      const text = await page.textContent('#incident-detail');
      for (const h of hostile) if (text.includes(h)) found.add(h);
      if (found.size === hostile.length) break;
    }
    if (found.size < hostile.length) await page.waitForTimeout(1000);
  }
  result.hostile_found = [...found];
  result.hostile_missing = hostile.filter((h) => !found.has(h));
  if (result.hostile_missing.length) result.incidents_dump = await page.evaluate(async () => (await fetch('/api/incidents')).json());
  // Select the incident holding the first hostile string for the screenshot.
  for (const id of await page.$$eval('#incidents-table tbody tr', (trs) => trs.map((t) => t.dataset.incidentId))) {
    await page.click(`#incidents-table tr[data-incident-id="${id}"]`);
    if ((await page.textContent('#incident-detail')).includes(hostile[0] ?? '\u0000')) break;
  }
  await shot('hostile');
  result.injected_elements = await page.evaluate(() => document.querySelectorAll('main img, main script, main iframe, main object, main embed, main [onerror], main [onload], main svg[onload]').length);
  result.xss_ran = await page.evaluate(() => typeof window.__xss !== 'undefined');
  result.dialogs = dialogs;

  // 7. Health charts.
  step('health');
  await view('health');
  await page.waitForFunction(() => document.querySelectorAll('#charts polyline').length >= 2, null, { timeout: TIMEOUT });
  result.chart_lines = await page.$$eval('#charts polyline', (l) => l.length);
  await shot('health');

  // 8. The lake's past incidents, paged (memory measured after).
  step('history');
  await page.waitForTimeout(500);
  console.log('PHASE history');
  await view('history');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length > 0, null, { timeout: TIMEOUT });
  result.history_position = await page.textContent('#hist-pos');
  await shot('history');
  for (let i = 0; i < Number(env('HISTORY_PAGES', '5')); i++) {
    const before = await page.textContent('#hist-pos');
    await page.click('#hist-next');
    await page.waitForFunction((b) => document.getElementById('hist-pos').textContent !== b, before, { timeout: TIMEOUT });
  }
  result.history_paged_to = await page.textContent('#hist-pos');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  const metrics = (await cdp.send('Performance.getMetrics')).metrics;
  result.js_heap_used_bytes = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value;
  result.dom_nodes = metrics.find((m) => m.name === 'Nodes')?.value;

  console.log('PHASE done');
  result.reloaded = (await page.evaluate(() => window.__e2eMarker)) !== 'same page';
  result.seen = await page.evaluate(() => window.consoleSeen);
  result.console_errors = consoleErrors;
  console.log(`RESULT ${JSON.stringify(result)}`);
  await browser.close();
  process.exit(0);
} catch (e) {
  try { await shot('failure'); } catch (_) { /* the page may be gone */ }
  console.log(`FAIL ${String(e && e.stack || e).replace(/\n/g, ' | ')}`);
  console.log(`RESULT ${JSON.stringify(result)}`);
  await browser.close();
  process.exit(1);
}
