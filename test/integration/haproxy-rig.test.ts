/**
 * The real rig: HAProxy (Debian's package, started here with a generated config on loopback) in
 * front of three Node HTTP backends, an engine on real NATS with isolated names, the HAProxy
 * agent in-process, and a bounded load generator. One backend is made ten times slower: within
 * 5 s it must get < 10 % of the requests (counted at the backends), HAProxy must show its lowered
 * weight, the agent must have acked the version it applied, and the document must say latency
 * is why. Restored, it must regain its share within 30 s. The measured times are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { HaproxyAgent, runtimeCommand, type WeightsAck } from '../../src/client/haproxy-agent.js';
import { parseServersState } from '../../src/publish/haproxy.js';
import type { WeightsDocument } from '../../src/publish/document.js';
import { isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';
import { freePort } from './fault-servers.js';

const HAPROXY = '/usr/sbin/haproxy';
const POOL = 'rig';
const PROXY = 'rig-haproxy';
const BASE_DELAY_MS = 20;
const SLOW_DELAY_MS = 10 * BASE_DELAY_MS;
const CONCURRENCY = 24;
/** Shares are judged over the requests that arrived in this trailing window. */
const SHARE_WINDOW_MS = 1000;

// The engine's defaults (predictive weigher, EWMA tau 2 s, 10 s percentile window) are what is
// tested; RIG_EWMA_TAU_MS / RIG_WINDOW_SEC override them for experiments.
const settings = isolatedSettings({
  natsUrl: NATS_URL,
  publishIntervalMs: 200,
  ...(process.env['RIG_WINDOW_SEC']
    ? { latencyWindowSec: Number(process.env['RIG_WINDOW_SEC']) }
    : {}),
  ...(process.env['RIG_EWMA_TAU_MS'] ? { ewmaTauMs: Number(process.env['RIG_EWMA_TAU_MS']) } : {}),
});

interface Backend {
  readonly name: string;
  readonly server: http.Server;
  port: number;
  delayMs: number;
  /** Arrival times (ms) of the requests it received. */
  readonly arrivals: number[];
}

const toClose: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  // Reverse order: load, agent, engine, HAProxy, backends, NATS names, files.
  for (const close of toClose.reverse()) {
    try {
      await close();
    } catch {
      // keep cleaning up the rest
    }
  }
  await cleanup(settings);
});

async function startBackend(name: string): Promise<Backend> {
  const b: Backend = {
    name,
    server: http.createServer((_req, res) => {
      b.arrivals.push(Date.now());
      setTimeout(() => res.end(name), b.delayMs);
    }),
    port: 0,
    delayMs: BASE_DELAY_MS,
    arrivals: [],
  };
  b.server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.port = (b.server.address() as AddressInfo).port;
  toClose.push(
    () =>
      new Promise<void>((resolve) => {
        b.server.closeAllConnections();
        b.server.close(() => resolve());
      }),
  );
  return b;
}

function haproxyConfig(dir: string, frontendPort: number, backends: readonly Backend[]): string {
  return [
    'global',
    `  stats socket ${dir}/admin.sock mode 600 level admin`,
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend fe',
    `  bind 127.0.0.1:${frontendPort}`,
    '  default_backend be',
    'backend be',
    '  balance roundrobin',
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} weight 100`),
    '',
  ].join('\n');
}

async function startHaproxy(dir: string, cfg: string): Promise<ChildProcess> {
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg);
  let stderr = '';
  const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  toClose.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr}`);
      if (!existsSync(path.join(dir, 'admin.sock'))) return false;
      return (await runtimeCommand(path.join(dir, 'admin.sock'), 'show info')).includes('Name:');
    },
    10_000,
    'haproxy admin socket',
  );
  return child;
}

/** Closed-loop load: `concurrency` workers, each one request at a time, until stopped. */
function startLoad(
  port: number,
  concurrency: number,
): { stop: () => Promise<void>; errors: () => number } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let running = true;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.once('end', () => resolve());
      });
      req.setTimeout(10_000, () => req.destroy());
      req.once('error', () => {
        errors++;
        setTimeout(resolve, 10);
      });
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  const stop = async () => {
    running = false;
    await Promise.all(workers);
    agent.destroy();
  };
  toClose.push(stop);
  return { stop, errors: () => errors };
}

function shares(backends: readonly Backend[], nowMs: number): Map<string, number> {
  const counts = backends.map((b) => {
    let n = 0;
    for (let i = b.arrivals.length - 1; i >= 0 && b.arrivals[i]! > nowMs - SHARE_WINDOW_MS; i--)
      n++;
    return n;
  });
  const total = counts.reduce((a, c) => a + c, 0);
  return new Map(backends.map((b, i) => [b.name, total > 0 ? counts[i]! / total : 0]));
}

describe('HAProxy rig', () => {
  it('moves traffic off a slow backend within 5 s and back within 30 s', async () => {
    expect(existsSync(HAPROXY), `${HAPROXY} missing: sudo apt-get install -y haproxy`).toBe(true);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prescient-rig-'));
    toClose.push(() => rmSync(dir, { recursive: true, force: true }));
    const backends = [await startBackend('s1'), await startBackend('s2'), await startBackend('s3')];
    const frontendPort = await freePort();
    await startHaproxy(dir, haproxyConfig(dir, frontendPort, backends));
    const socketPath = path.join(dir, 'admin.sock');

    const engine = new Engine(settings, createLogger('silent'));
    toClose.push(() => engine.stop());
    await engine.start();

    const nc: NatsConnection = await natsConnection();
    toClose.push(() => nc.close());
    const acks: WeightsAck[] = [];
    const ackSub = nc.subscribe(`${settings.subjectPrefix}.policy.ack.weights.${PROXY}`, {
      callback: (_err, msg) => acks.push(msg.json<WeightsAck>()),
    });
    toClose.push(() => ackSub.unsubscribe());

    const agentErrors: string[] = [];
    const agent = new HaproxyAgent({
      nc,
      socketPath,
      backend: 'be',
      pool: POOL,
      proxy: PROXY,
      intervalMs: 250,
      subjectPrefix: settings.subjectPrefix,
      kvBucket: settings.kvBucket,
      onError: (err) => agentErrors.push(err.message),
    });
    toClose.push(() => agent.stop());
    await agent.start();
    const load = startLoad(frontendPort, CONCURRENCY);

    // Warm-up: all three backends known to the engine and a document applied.
    await waitFor(
      () => {
        const doc = engine.latestPolicy('weights', POOL);
        return doc && doc.entries.length === 3 && agent.status().appliedVersion >= doc.version - 2;
      },
      15_000,
      'first weights applied',
    );
    await new Promise((r) => setTimeout(r, 1500));
    const slow = backends[1]!;
    const before = shares(backends, Date.now()).get(slow.name)!;
    expect(before).toBeGreaterThan(0.2);

    // Slow s2 down ten times.
    const slowedAt = Date.now();
    // RIG_TRACE=1 prints, every 250 ms: seconds since the slow-down, the shares counted at the
    // backends, the document version with each backend's share/EWMA ms, the version applied.
    if (process.env['RIG_TRACE']) {
      const t = setInterval(() => {
        const d = engine.latestPolicy('weights', POOL) as WeightsDocument | undefined;
        const sh = shares(backends, Date.now());
        console.log(
          ((Date.now() - slowedAt) / 1000).toFixed(2),
          [...sh.values()].map((v) => v.toFixed(2)).join(' '),
          d?.version,
          d?.entries
            .map(
              (e) =>
                `${e.backend}:${e.weight.toFixed(3)}/${(e.inputs['ewmaLatencyMs'] ?? 0).toFixed(0)}`,
            )
            .join(' '),
          agent.status().appliedVersion,
        );
      }, 250);
      toClose.push(() => clearInterval(t));
    }
    slow.delayMs = SLOW_DELAY_MS;
    await waitFor(() => shares(backends, Date.now()).get(slow.name)! < 0.1, 5_000, 's2 < 10 %');
    const secondsToDrain = (Date.now() - slowedAt) / 1000;

    const state = parseServersState(await runtimeCommand(socketPath, 'show servers state be'));
    const weights = [...state.values()];
    expect(state.get(slow.name)!).toBeLessThan(Math.max(...weights) * 0.5);
    const doc = engine.latestPolicy('weights', POOL) as WeightsDocument;
    await waitFor(
      () =>
        acks.find(
          (a) => a.pool === POOL && a.proxy === PROXY && a.version >= agent.status().appliedVersion,
        ),
      2_000,
      'ack of the applied version',
    );
    expect(
      acks
        .at(-1)!
        .servers.map((s) => s.server)
        .sort(),
    ).toEqual(['s1', 's2', 's3']);
    const entry = doc.entries.find((e) => e.backend === slow.name)!;
    const namesLatency =
      /latency/i.test(entry.text) ||
      Object.keys(entry.attributions).some((k) => /latency/i.test(k));
    expect(namesLatency, entry.text).toBe(true);
    expect(entry.weight).toBeLessThan(0.15);

    // Restore it.
    slow.delayMs = BASE_DELAY_MS;
    const restoredAt = Date.now();
    await waitFor(() => shares(backends, Date.now()).get(slow.name)! > 0.25, 30_000, 's2 > 25 %');
    const secondsToRegain = (Date.now() - restoredAt) / 1000;

    await load.stop();
    console.log(
      `haproxy rig: s2 share before ${(before * 100).toFixed(1)} %, < 10 % after ${secondsToDrain.toFixed(2)} s ` +
        `(HAProxy weights ${JSON.stringify(Object.fromEntries(state))}, doc v${doc.version}: "${entry.text}"), ` +
        `> 25 % again ${secondsToRegain.toFixed(2)} s after restore; ${acks.length} acks, ` +
        `${agent.status().eventsPublished} events, ${load.errors()} load errors, agent errors: ${agentErrors.length}`,
    );
    expect(load.errors()).toBe(0);
  });
});
