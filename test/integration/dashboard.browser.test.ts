/**
 * The dashboard in a real browser: Debian's chromium (installed by scripts/services.mjs when
 * absent), driven headless by playwright-core, against an embedded engine listening on loopback.
 * It signs in with a token, waits for a pool's chart to draw data, drains a backend through the
 * override form and waits for the page to show that backend at 0.000 and the others grown.
 * The page is saved to test-output/dashboard.png.
 */
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedApp, TEST_TOKENS, waitFor } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-output/dashboard.png';
const POOL = 'web';
/** Latency per backend (ms): inverse-latency shares of about 0.57, 0.29 and 0.14. */
const BACKENDS = { a: 10, b: 20, c: 40 } as const;
const DRAINED = 'b';

let engine: Engine;
let app: App;
let token: string;
let baseUrl: string;
let userDataDir: string;
let context: BrowserContext;

/** Latency events for every backend of the pool around `ts`, jittered a little per round. */
function latencyEvents(ts: number, round: number) {
  return Object.entries(BACKENDS).flatMap(([backend, ms]) =>
    Array.from({ length: 20 }, (_, i) => ({
      ts: ts + i,
      pool: POOL,
      backend,
      latencyMs: ms * (1 + 0.15 * Math.sin(round + i)),
      status: 200,
    })),
  );
}

async function send(kind: 'access' | 'latency', source: string, events: unknown[]): Promise<void> {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/telemetry',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ kind, source, events }),
  });
  expect(r.statusCode, r.body).toBe(202);
}
const sendLatency = (events: unknown[]) => send('latency', 'edge-1', events);

const weightCell = (page: Page, backend: string) =>
  page.locator(`[data-testid="weight-${POOL}-${backend}"]`);

async function weights(page: Page): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const backend of Object.keys(BACKENDS)) {
    out[backend] = Number(await weightCell(page, backend).textContent());
  }
  return out;
}

beforeAll(async () => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `${CHROMIUM} is missing: run \`node scripts/services.mjs\` as root (it installs Debian's chromium) or sudo apt-get install -y chromium`,
    );
  }
  const started = await embeddedApp({ weigher: 'inverse-latency', victimRanker: 'lru' });
  ({ engine, app } = started);
  token = started.adminToken;
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  // Four minutes of traffic so the pool's series has complete steps to forecast from, then a
  // few publications so the weights chart has a line to draw, not a single point.
  const now = Date.now();
  for (let minute = 4; minute >= 1; minute--) {
    await sendLatency(latencyEvents(now - minute * 60_000, minute));
  }
  for (let round = 0; round < 5; round++) {
    await sendLatency(latencyEvents(now - 10_000 + round * 1000, round));
    await engine.publishNow();
  }
  // A cache node, for the victims section.
  await send(
    'access',
    'cache-1',
    Array.from({ length: 30 }, (_, i) => ({
      ts: now - 30_000 + i * 1000,
      key: `user:${i % 12}`,
      hit: i >= 12,
    })),
  );
  await engine.publishNow();

  userDataDir = await mkdtemp(join(tmpdir(), 'prescient-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1360, height: 900 },
  });
});

afterAll(async () => {
  await context?.close();
  await app?.close();
  await engine?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

describe('dashboard', () => {
  it('signs in, charts a pool, and shows a drain override take effect', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      // A CSP violation is reported on the console; 404s of routes the page probes are not errors.
      if (/Content Security Policy|Refused to/i.test(msg.text())) pageErrors.push(msg.text());
    });
    try {
      const res = await page.goto(`${baseUrl}/ui`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");

      await page.fill('#token', token);
      await page.click('#login button[type="submit"]');
      await page.locator('#session').waitFor({ state: 'visible' });
      expect(await page.locator('[data-testid="whoami-role"]').textContent()).toBe('admin');

      // The pool's chart: a canvas, drawn from the history of published shares.
      const chart = page.locator(`[data-testid="chart-${POOL}"]`);
      await chart.locator('canvas').waitFor({ state: 'visible' });
      await waitFor(
        async () => Number(await chart.getAttribute('data-points')) >= 2,
        10_000,
        'the chart to draw two points',
      );
      expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(2);

      // The other sections drew their data too.
      await page.locator('#victims td', { hasText: 'user:' }).first().waitFor();
      await page.locator(`[data-testid="forecast-pool.${POOL}"] canvas`).waitFor();

      const before = await weights(page);
      expect(before['a']).toBeGreaterThan(before['b']!);
      expect(before['b']).toBeGreaterThan(before['c']!);
      expect(Object.values(before).reduce((s, w) => s + w, 0)).toBeCloseTo(1, 2);

      // Drain one backend through the form.
      await page.selectOption('#ov-action', 'drain');
      await page.fill('#ov-pool', POOL);
      await page.fill('#ov-backend', DRAINED);
      await page.fill('#ov-reason', 'dashboard browser test');
      await page.fill('#ov-ttl', '600');
      await page.click('#override-form button[type="submit"]');
      await page
        .locator('[data-testid="override-message"]', { hasText: 'created' })
        .waitFor({ timeout: 10_000 });
      await page
        .locator('[data-testid="overrides"] td', { hasText: 'drain' })
        .first()
        .waitFor({ timeout: 10_000 });

      // The engine republishes the pool with the override; the page refreshes every 2 s.
      await waitFor(
        async () => (await weightCell(page, DRAINED).textContent()) === '0.000',
        20_000,
        `the weight of ${DRAINED} to show 0.000`,
      );
      const after = await weights(page);
      expect(after[DRAINED]).toBe(0);
      for (const backend of Object.keys(BACKENDS).filter((b) => b !== DRAINED)) {
        expect(after[backend], backend).toBeGreaterThan(before[backend]!);
      }
      expect(Object.values(after).reduce((s, w) => s + w, 0)).toBeCloseTo(1, 2);
      // Let the chart draw the change before the picture is taken.
      await page.waitForTimeout(2500);
      expect(pageErrors).toEqual([]);
    } finally {
      await mkdir('test-output', { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
  });

  it("shows the API's error when a viewer tries to create an override", async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${baseUrl}/ui`);
      await page.fill('#token', TEST_TOKENS.viewer);
      await page.click('#login button[type="submit"]');
      await page.locator('#session').waitFor({ state: 'visible' });
      expect(await page.locator('[data-testid="whoami-role"]').textContent()).toBe('viewer');
      await page.locator(`[data-testid="weight-${POOL}-a"]`).waitFor();
      await page.selectOption('#ov-action', 'drain');
      await page.fill('#ov-pool', POOL);
      await page.fill('#ov-backend', 'a');
      await page.fill('#ov-reason', 'not allowed');
      await page.click('#override-form button[type="submit"]');
      const message = page.locator('[data-testid="override-message"].error');
      await message.waitFor();
      expect(await message.textContent()).toContain('needs operator');
    } finally {
      await page.close();
    }
  });
});
