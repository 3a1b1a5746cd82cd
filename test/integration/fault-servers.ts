/**
 * Processes the fault tests start, stop, kill and restart themselves, on free loopback ports:
 * their own `nats-server` (JetStream, store directory under test-output/) and `redis-server`
 * (append-only file fsynced on every write), so the shared servers on 4222 and 6379 that the other
 * tests use are never touched; and the engine as a child process (`node bin/prescient.js serve`)
 * for `kill -9`. Every process started here is stopped by {@link stopAll} (call it in `afterAll`)
 * and killed when the test process exits, also on failure. Never a mock of any of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import { SPEC, type Settings } from '../../src/config/settings.js';
import { waitFor } from '../helpers/engine.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NATS_SERVER = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
const REDIS_SERVER = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
const REDIS_CLI = process.env['REDIS_CLI_BIN'] ?? 'redis-cli';
/** How long a server or the engine may take to answer after being started (loaded 2-core CI). */
const START_TIMEOUT_MS = 30_000;
/** How long a stopped process may take to exit before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Output kept per process for failure messages. */
const MAX_OUTPUT_CHARS = 64 * 1024;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh directory under test-output/, removed by {@link stopAll}. */
export function scratchDir(what: string): string {
  const dir = path.join(ROOT, 'test-output', `fault-${what}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  dirs.push(dir);
  return dir;
}

/** A child process with its output captured and a stop that escalates to SIGKILL. */
export class Managed {
  private out = '';
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (c: Buffer) => {
      this.out = (this.out + c.toString()).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      // Not started at all (ENOENT: the server is not installed): 'exit' may never come.
      child.once('error', (err) => {
        this.spawnError = err;
        keep(Buffer.from(`\n${err.message}`));
        resolve();
      });
    });
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  private spawnError: Error | undefined;

  get running(): boolean {
    return (
      this.spawnError === undefined &&
      this.child.exitCode === null &&
      this.child.signalCode === null
    );
  }

  /** Everything it printed (the last 64 KiB), for failure messages. */
  output(): string {
    return this.out;
  }

  /** Sends `signal` and waits for the exit; SIGKILL if it has not exited within 10 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    // A process a test froze (SIGSTOP) only acts on the signal once it runs again.
    if (signal !== 'SIGKILL') this.child.kill('SIGCONT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Throws with the captured output if the process has exited (checked while waiting for it). */
  assertRunning(): void {
    if (!this.running) {
      throw new Error(
        `${this.name} exited (${this.child.exitCode ?? this.child.signalCode ?? 'not started'}):\n${this.out}`,
      );
    }
  }
}

const running = new Set<Managed>();
const dirs: string[] = [];
process.once('exit', () => {
  for (const p of running) p.child.kill('SIGKILL');
});

/** Stops every process started here (SIGTERM, then SIGKILL) and removes the scratch directories. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGTERM')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function launch(name: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
  });
  return new Managed(name, child);
}

/** A server on a fixed port and data directory: a restart finds the same data at the same URL. */
abstract class Server {
  protected proc: Managed | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  abstract get url(): string;
  protected abstract launch(): Managed;
  /** Resolves when the server answers (and has loaded its data). */
  protected abstract probe(): Promise<boolean>;

  get process(): Managed | undefined {
    return this.proc;
  }

  async start(): Promise<void> {
    if (this.proc?.running) throw new Error(`${this.url} is already running`);
    const proc = this.launch();
    this.proc = proc;
    await waitFor(
      async () => {
        proc.assertRunning();
        return this.probe().catch(() => false);
      },
      START_TIMEOUT_MS,
      `${proc.name} on ${this.url}`,
    );
  }

  /** SIGTERM (graceful) or SIGKILL; resolves once the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc?.stop(signal);
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }
}

/** `nats-server -js` with its own store directory (JetStream state survives a restart). */
export class NatsServer extends Server {
  constructor(
    port: number,
    dir: string,
    /** A configuration file (e.g. subject mappings); the flags below override its settings. */
    private readonly configFile?: string,
  ) {
    super(port, dir);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  protected launch(): Managed {
    return launch('nats-server', NATS_SERVER, [
      ...(this.configFile === undefined ? [] : ['-c', this.configFile]),
      '-a',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-js',
      '-sd',
      this.dir,
      '--server_name',
      `fault-${this.port}`,
    ]);
  }

  protected async probe(): Promise<boolean> {
    const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
    try {
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  }

  /** A client that reconnects forever (publishers and watchers that outlive a restart). */
  connect(name = 'prescient-fault-test'): Promise<NatsConnection> {
    return connect({
      servers: this.url,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  }
}

/** `redis-server` with `appendonly yes`, `appendfsync always` in its own directory. */
export class RedisServer extends Server {
  constructor(
    port: number,
    dir: string,
    /** More arguments (a cluster node's). */
    private readonly extraArgs: readonly string[] = [],
  ) {
    super(port, dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected launch(): Managed {
    return launch('redis-server', REDIS_SERVER, [
      '--bind',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      ...this.extraArgs,
    ]);
  }

  protected async probe(): Promise<boolean> {
    const redis = this.connect();
    try {
      await redis.connect();
      // LOADING (the append-only file is being replayed) is an error reply: not ready yet.
      return (await redis.ping()) === 'PONG';
    } finally {
      redis.disconnect();
    }
  }

  /** A test-side connection that does not retry (check what is stored, not the engine's path). */
  connect(): Redis {
    const redis = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined); // a refused connection rejects the command; enough
    return redis;
  }
}

export async function startNatsServer(config?: string): Promise<NatsServer> {
  const dir = scratchDir('nats');
  let configFile: string | undefined;
  if (config !== undefined) {
    configFile = path.join(dir, 'nats.conf');
    writeFileSync(configFile, config);
  }
  const server = new NatsServer(await freePort(), dir, configFile);
  await server.start();
  return server;
}

/**
 * A Redis Cluster of `nodes` masters on loopback (no replicas), each a `redis-server` with its own
 * port, cluster-bus port and directory, joined by `redis-cli --cluster create`; resolves when
 * every node reports `cluster_state:ok`. `url`: the seed list REDIS_URL takes with REDIS_CLUSTER=1.
 */
export async function startRedisCluster(
  nodes = 3,
): Promise<{ servers: RedisServer[]; url: string }> {
  const servers: RedisServer[] = [];
  for (let i = 0; i < nodes; i++) {
    const dir = scratchDir('redis-cluster');
    const server = new RedisServer(await freePort(), dir, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, 'nodes.conf'),
      // The default bus port (port + 10000) can fall outside 1–65535 for an ephemeral port.
      '--cluster-port',
      String(await freePort()),
      '--cluster-node-timeout',
      '2000',
    ]);
    await server.start();
    servers.push(server);
  }
  const create = launch('redis-cli', REDIS_CLI, [
    '--cluster',
    'create',
    ...servers.map((s) => `127.0.0.1:${s.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  await create.exited;
  if (create.child.exitCode !== 0)
    throw new Error(`redis-cli --cluster create: ${create.output()}`);
  await waitFor(
    async () => {
      for (const s of servers) {
        const redis = s.connect();
        try {
          await redis.connect();
          const info = (await redis.call('CLUSTER', 'INFO')) as string;
          if (!info.includes('cluster_state:ok')) return false;
        } finally {
          redis.disconnect();
        }
      }
      return true;
    },
    START_TIMEOUT_MS,
    'the Redis Cluster to be ok',
  );
  return { servers, url: servers.map((s) => s.url).join(',') };
}

export async function startRedisServer(): Promise<RedisServer> {
  const server = new RedisServer(await freePort(), scratchDir('redis'));
  await server.start();
  return server;
}

/** The environment that configures `prescient serve` exactly as `settings` (SPEC's variables). */
export function engineEnv(settings: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, entry] of Object.entries(SPEC)) {
    const value = settings[name as keyof Settings];
    if (value === undefined) delete env[entry.env];
    else env[entry.env] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}

/** `node bin/prescient.js serve` in a child process; `url` is its API, read from its banner. */
export class EngineProcess {
  private constructor(
    readonly proc: Managed,
    readonly url: string,
  ) {}

  /** Starts the engine configured by `settings` (PORT 0: a free port) and waits for /readyz 200. */
  static async start(settings: Settings, name = 'engine'): Promise<EngineProcess> {
    const env = { ...engineEnv(settings), PORT: '0', HOST: '127.0.0.1' };
    const proc = launch(name, process.execPath, ['bin/prescient.js', 'serve'], env);
    const url = await waitFor(
      () => {
        proc.assertRunning();
        return /Prescient listening on (http:\/\/\S+)/.exec(proc.output())?.[1];
      },
      START_TIMEOUT_MS,
      `${name} to listen`,
    );
    const engine = new EngineProcess(proc, url);
    await waitFor(
      async () => {
        proc.assertRunning();
        return (await fetch(`${url}/readyz`)).status === 200;
      },
      START_TIMEOUT_MS,
      `${name} ready`,
    );
    return engine;
  }

  get pid(): number {
    return this.proc.child.pid!;
  }

  /** GET `path` with `headers`; the parsed JSON body (throws on a non-2xx answer). */
  async get<T>(urlPath: string, headers: Record<string, string> = {}): Promise<T> {
    const r = await fetch(`${this.url}${urlPath}`, { headers });
    if (!r.ok) throw new Error(`GET ${urlPath}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }
}

export interface SustainedPublisher {
  /** Resolves when every message is acked by the stream (rejects if one never is). */
  readonly done: Promise<void>;
  /** Messages acked so far (each exactly once: retries of a message reuse its Nats-Msg-Id). */
  readonly acked: () => number;
  /** Publish attempts that failed (no ack in time, no responders, disconnected), then retried. */
  readonly retries: () => number;
  /** Retries the stream answered as duplicates: stored by an attempt whose ack was lost. */
  readonly duplicates: () => number;
}

export interface SustainedOptions {
  readonly js: JetStreamClient;
  readonly subject: string;
  readonly messages: number;
  readonly eventsPerMessage: number;
  /** Event i is an access of key `k<i % keys>`. */
  readonly keys: number;
  /** Pause between messages (a sustained stream, not one burst). */
  readonly paceMs: number;
  /** Awaited before message m is published (a test holds the stream at a point with it). */
  readonly before?: (m: number) => Promise<void> | void;
  /** Give up on one message after this long. Default 60 s. */
  readonly giveUpMs?: number;
  /** Nats-Msg-Id prefix (ids are stream-wide: publishers on several subjects need their own). Default `m`. */
  readonly idPrefix?: string;
}

/**
 * Publishes access telemetry as a producer that wants exactly-once would: message m carries
 * `Nats-Msg-Id: <idPrefix><m>` and is retried with the same id until the stream acks it, so an attempt
 * that was stored but whose ack was lost (the server stopped) is dropped as a duplicate.
 */
export function publishSustained(o: SustainedOptions): SustainedPublisher {
  let acked = 0;
  let retries = 0;
  let duplicates = 0;
  const giveUpMs = o.giveUpMs ?? 60_000;
  const done = (async () => {
    for (let m = 0; m < o.messages; m++) {
      await o.before?.(m);
      const events = Array.from({ length: o.eventsPerMessage }, (_, j) => {
        const i = m * o.eventsPerMessage + j;
        return { ts: 1_000_000 + i, key: `k${i % o.keys}`, hit: i % 3 === 0 };
      });
      const data = JSON.stringify({ events });
      const end = Date.now() + giveUpMs;
      for (let attempt = 0; ; attempt++) {
        try {
          const ack = await o.js.publish(o.subject, data, {
            msgID: `${o.idPrefix ?? 'm'}${m}`,
            timeout: 2_000,
          });
          if (ack.duplicate) duplicates++;
          break;
        } catch (err) {
          if (Date.now() > end)
            throw new Error(`message ${m} not acked in ${giveUpMs} ms: ${(err as Error).message}`);
          retries++;
          await sleep(Math.min(1_000, 100 * 2 ** attempt));
        }
      }
      acked++;
      if (o.paceMs > 0) await sleep(o.paceMs);
    }
  })();
  done.catch(() => undefined); // the test awaits it; this only prevents an unhandled rejection
  return { done, acked: () => acked, retries: () => retries, duplicates: () => duplicates };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
