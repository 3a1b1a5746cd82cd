#!/usr/bin/env node
/**
 * @module scripts/services
 * Makes sure the servers the integration tests talk to are up on loopback: NATS with JetStream on
 * 127.0.0.1:4222 and Redis on 127.0.0.1:6379. A server that is installed but stopped is started
 * (with the same command the machine uses at boot) and waited for; a server that is missing fails
 * with the install command. Nothing is ever skipped: tests need real servers, not mocks.
 * Two tools are never started here, only needed: HAProxy (the HAProxy rig test starts its own on
 * a free loopback port) and Chromium (Debian's `chromium`, which the dashboard's browser test
 * drives through playwright-core; no browser is downloaded). When one is missing and this runs as
 * root with apt-get, its Debian package is installed here (the only things this script ever
 * installs); else it fails with the install command. `.ci/run` installs both up front.
 *
 * CLI: `node scripts/services.mjs` (exit 0 when everything is ready, 1 otherwise).
 * Library: `await ensureServices()` throws an Error listing every problem.
 */
import { Buffer } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const NATS_PORT = 4222;
const REDIS_PORT = 6379;
/** How long to wait for a server we started to answer. */
const START_WAIT_MS = 10_000;
/** Per-probe timeout: loopback answers in microseconds, so this only bounds a hung server. */
const PROBE_TIMEOUT_MS = 2_000;

/** @typedef {{ ok: true, detail: string } | { ok: false, listening: boolean, reason: string }} Probe */

/** Returns the absolute path of an executable: the known path first, then each PATH entry. */
function findExecutable(name, knownPaths = []) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of [...knownPaths, ...dirs.map((dir) => path.join(dir, name))]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next one
    }
  }
  return undefined;
}

/** Resolves true when something accepts a TCP connection on host:port. */
function isListening(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (listening) => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Sends raw RESP commands and resolves with everything the server answered once `complete(text)`
 * says the reply is whole. No client library, so this script runs before `npm ci` has finished.
 */
function redisExchange(commands, complete) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port: REDIS_PORT });
    let text = '';
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      reject(
        new Error(`no complete answer within ${PROBE_TIMEOUT_MS} ms (got ${JSON.stringify(text)})`),
      );
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(commands));
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (complete(text)) {
        socket.end();
        resolve(text);
      }
    });
    socket.once('end', () => reject(new Error(`connection closed (got ${JSON.stringify(text)})`)));
  });
}

/** RESP array of bulk strings, e.g. resp('INFO', 'server'). */
function resp(...args) {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** @returns {Promise<Probe>} */
async function probeRedis() {
  if (!(await isListening(REDIS_PORT))) {
    return { ok: false, listening: false, reason: `nothing listens on ${HOST}:${REDIS_PORT}` };
  }
  // PING then INFO server: the answer is "+PONG\r\n" followed by one bulk string "$<len>\r\n...".
  const bulkComplete = (text) => {
    const m = /^\+PONG\r\n\$(\d+)\r\n/.exec(text);
    if (m) return Buffer.byteLength(text) >= m[0].length + Number(m[1]) + 2;
    return text.startsWith('-') || (text.length >= 7 && !text.startsWith('+PONG'));
  };
  try {
    const answer = await redisExchange(resp('PING') + resp('INFO', 'server'), bulkComplete);
    if (!answer.startsWith('+PONG\r\n')) {
      return {
        ok: false,
        listening: true,
        reason: `PING answered ${JSON.stringify(answer.split('\r\n')[0])}, not +PONG`,
      };
    }
    const version = /redis_version:([^\r\n]+)/.exec(answer)?.[1] ?? 'unknown version';
    return { ok: true, detail: version };
  } catch (error) {
    return { ok: false, listening: true, reason: `PING failed: ${error.message}` };
  }
}

/** @returns {Promise<Probe>} */
async function probeNats() {
  if (!(await isListening(NATS_PORT))) {
    return { ok: false, listening: false, reason: `nothing listens on ${HOST}:${NATS_PORT}` };
  }
  let nats;
  try {
    nats = await import('nats');
  } catch {
    return {
      ok: false,
      listening: true,
      reason: 'the `nats` package is not installed: run `npm ci` first',
    };
  }
  let nc;
  try {
    nc = await nats.connect({
      servers: `${HOST}:${NATS_PORT}`,
      timeout: PROBE_TIMEOUT_MS,
      reconnect: false,
    });
  } catch (error) {
    return { ok: false, listening: true, reason: `NATS connect failed: ${error.message}` };
  }
  try {
    const version = nc.info?.version ?? 'unknown';
    try {
      const jsm = await nc.jetstreamManager({ timeout: PROBE_TIMEOUT_MS });
      await jsm.getAccountInfo();
    } catch (error) {
      return {
        ok: false,
        listening: true,
        reason:
          `JetStream is not enabled on the server at ${HOST}:${NATS_PORT} (server ${version}: ${error.message}); ` +
          'restart nats-server with -js -sd /var/lib/nats-server',
      };
    }
    return { ok: true, detail: `JetStream enabled, server ${version}` };
  } finally {
    await nc.close();
  }
}

function startNats(binary) {
  mkdirSync('/var/lib/nats-server', { recursive: true });
  mkdirSync('/var/log', { recursive: true });
  const serverArgs = [
    '-a',
    HOST,
    '-p',
    String(NATS_PORT),
    '-js',
    '-sd',
    '/var/lib/nats-server',
    '-l',
    '/var/log/nats-server.log',
  ];
  const ssd = findExecutable('start-stop-daemon', [
    '/usr/sbin/start-stop-daemon',
    '/sbin/start-stop-daemon',
  ]);
  if (ssd) {
    run(ssd, ['--start', '--oknodo', '--background', '--exec', binary, '--', ...serverArgs]);
  } else {
    spawn(binary, serverArgs, { detached: true, stdio: 'ignore' }).unref();
  }
}

function startRedis(binary) {
  mkdirSync('/var/lib/redis', { recursive: true });
  mkdirSync('/var/log/redis', { recursive: true });
  run(binary, [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    String(REDIS_PORT),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    '/var/lib/redis',
    '--logfile',
    '/var/log/redis/ci.log',
  ]);
}

/** Runs a command to completion; throws with its output if it fails. */
function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}: ${(result.stderr || result.stdout).trim()}`,
    );
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const SERVICES = [
  {
    name: 'nats',
    executable: 'nats-server',
    knownPaths: ['/usr/sbin/nats-server', '/usr/bin/nats-server'],
    install: 'sudo apt-get install -y nats-server',
    probe: probeNats,
    start: startNats,
  },
  {
    name: 'redis',
    executable: 'redis-server',
    knownPaths: ['/usr/bin/redis-server', '/usr/sbin/redis-server'],
    install: 'sudo apt-get install -y redis-server',
    probe: probeRedis,
    start: startRedis,
  },
];

/** `binary args` must exit 0 and print something `pattern` captures: the version; else throws. */
function versionOf(binary, args, pattern) {
  const result = spawnSync(binary, args, { encoding: 'utf8' });
  const version = pattern.exec(`${result.stdout ?? ''}\n${result.stderr ?? ''}`)?.[1];
  if (result.status !== 0 || !version) {
    throw new Error(
      `${binary} ${args.join(' ')} failed: ${(result.stderr || result.stdout || '').trim()}`,
    );
  }
  return version;
}

/** apt-get with its output shown (an install takes a minute); returns the exit status. */
function aptGet(aptBinary, args) {
  const result = spawnSync(aptBinary, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.error ? 1 : (result.status ?? 1);
}

/**
 * A tool the tests run but never start as a service (HAProxy: the rig test starts its own on a
 * free loopback port; Chromium: the dashboard's browser test drives it through playwright-core).
 */
const TOOLS = [
  {
    name: 'haproxy',
    binary: '/usr/sbin/haproxy',
    package: 'haproxy',
    version: (binary) => versionOf(binary, ['-v'], /version (\S+)/),
    use: 'the rig test starts its own',
  },
  {
    name: 'chromium',
    binary: '/usr/bin/chromium',
    package: 'chromium',
    version: (binary) => versionOf(binary, ['--version'], /Chromium (\S+)/),
    use: "the dashboard's browser test drives it",
  },
];

/**
 * A tool present, or installed from Debian's package when running as root with apt-get (retried
 * once after `apt-get update` for a machine whose package lists are empty or old). Returns its
 * version or throws with the install command.
 */
function ensureTool(tool) {
  try {
    accessSync(tool.binary, constants.X_OK);
    return tool.version(tool.binary);
  } catch {
    // missing (or broken): install below when we can
  }
  const command = `sudo apt-get install -y --no-install-recommends ${tool.package}`;
  const aptBinary = findExecutable('apt-get', ['/usr/bin/apt-get']);
  if (process.getuid?.() !== 0 || !aptBinary) {
    throw new Error(`${tool.name} is not installed (${tool.binary} is missing): ${command}`);
  }
  console.log(
    `${tool.name}: ${tool.binary} is missing; installing Debian's ${tool.package} package`,
  );
  const install = ['install', '-y', '-q', '--no-install-recommends', tool.package];
  if (aptGet(aptBinary, install) !== 0) {
    if (aptGet(aptBinary, ['update', '-q']) !== 0 || aptGet(aptBinary, install) !== 0) {
      throw new Error(`installing ${tool.package} failed (see apt-get's output above): ${command}`);
    }
  }
  return `${tool.version(tool.binary)}, installed now`;
}

/** Checks one service, starting it if installed but stopped; returns the ok detail or throws. */
async function ensureService(service) {
  const first = await service.probe();
  if (first.ok) return first.detail;
  // Something answers on the port but is not what we need: starting a second server cannot help.
  if (first.listening) throw new Error(`${service.name}: ${first.reason}`);

  const binary = findExecutable(service.executable, service.knownPaths);
  if (!binary) throw new Error(`${service.executable} is not installed: ${service.install}`);

  console.log(`${service.name}: ${first.reason}; starting ${binary}`);
  service.start(binary);
  const deadline = Date.now() + START_WAIT_MS;
  let last = first;
  while (Date.now() < deadline) {
    await sleep(200);
    last = await service.probe();
    if (last.ok) return `${last.detail}, started now`;
  }
  throw new Error(
    `${service.name}: started ${binary} but it is not ready after ${START_WAIT_MS / 1000} s: ${last.reason}`,
  );
}

/**
 * Ensures NATS (with JetStream) and Redis are up and HAProxy and Chromium are installed (installed
 * here when missing and possible), printing one line per service.
 * @returns {Promise<Record<string, string>>} service name → detail, e.g. `{ redis: '7.0.15' }`
 * @throws {Error} listing every service that is missing or not ready, with what to do about it
 */
export async function ensureServices() {
  const details = {};
  const problems = [];
  for (const service of SERVICES) {
    try {
      details[service.name] = await ensureService(service);
      console.log(`${service.name}: ok (${details[service.name]})`);
    } catch (error) {
      problems.push(error.message);
      console.error(error.message);
    }
  }
  for (const tool of TOOLS) {
    try {
      details[tool.name] = ensureTool(tool);
      console.log(`${tool.name}: ok (${details[tool.name]}; ${tool.use})`);
    } catch (error) {
      problems.push(error.message);
      console.error(error.message);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return details;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureServices().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
