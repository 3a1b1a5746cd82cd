/**
 * @module learn/tf
 * The one place that chooses the TensorFlow.js backend (ESLint forbids importing a backend
 * package anywhere else).
 *
 * Other `learn/` modules write `import type * as tfjs from '@tensorflow/tfjs'` for types only
 * and get the live instance from `const { tf } = await loadTf()`; they never import
 * `@tensorflow/tfjs` as a value, so the backend is always chosen here first.
 *
 * Order tried (`auto`):
 * 1. `@tensorflow/tfjs-node` (backend `tensorflow`, native libtensorflow). It is an optional
 *    dependency whose install script downloads libtensorflow, so it is usually absent.
 * 2. `@tensorflow/tfjs` + `@tensorflow/tfjs-backend-wasm` (backend `wasm`, XNNPACK; SIMD binary
 *    when the runtime supports it, single-threaded in Node). The `.wasm` binaries are read from
 *    the package's `dist/` directory on disk: in Node `setWasmPaths` takes a plain file-system
 *    directory ending in a separator (no `file://` URL; Emscripten reads it with `fs`).
 * 3. `cpu` (plain JavaScript), with a warning: correct but slow.
 *
 * A preference (`opts.prefer`, overridden by the environment variable `PRESCIENT_TF_BACKEND` =
 * `auto|node|wasm|cpu`) starts the list lower down; a preferred backend that cannot load falls
 * through to the next one, and the log line says why. Exactly one line is logged.
 *
 * tfjs has one engine per process, so the first call decides: later calls get the same promise
 * whatever they ask for.
 */

import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';

import type * as tfjs from '@tensorflow/tfjs';

import { ConfigError } from '../errors.js';

/** The tfjs namespace (`@tensorflow/tfjs` or `@tensorflow/tfjs-node`, which re-exports it). */
export type Tf = typeof tfjs;

/** Which backend to try first. */
export type TfBackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';

/** The tfjs name of the backend that runs (`tensorflow` is tfjs-node's). */
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Options of {@link loadTf}; only the first call's count (see the module header). */
export interface LoadTfOptions {
  /** Backend to try first; default `auto` (= `node`). `PRESCIENT_TF_BACKEND` overrides it. */
  readonly prefer?: TfBackendPreference;
  /** Receives the one line saying which backend runs and why; default `console.warn`. */
  readonly log?: (msg: string) => void;
}

/** A ready tfjs instance. */
export interface LoadedTf {
  readonly tf: Tf;
  readonly backend: TfBackendName;
  /** Why this backend runs (the text of the log line after the backend name). */
  readonly reason: string;
  /** Wall-clock time from the start of loading to `tf.ready()`, in milliseconds. */
  readonly startupMs: number;
}

/** Environment variable overriding {@link LoadTfOptions.prefer}. */
export const TF_BACKEND_ENV = 'PRESCIENT_TF_BACKEND';

const PREFERENCES: readonly TfBackendPreference[] = ['auto', 'node', 'wasm', 'cpu'];

let loading: Promise<LoadedTf> | undefined;

/**
 * Loads tfjs on the best available backend (memoized: one engine per process).
 *
 * @throws {ConfigError} if `PRESCIENT_TF_BACKEND` is set to something other than auto, node,
 *   wasm or cpu.
 */
export function loadTf(opts: LoadTfOptions = {}): Promise<LoadedTf> {
  loading ??= load(opts);
  return loading;
}

function preferenceFrom(opts: LoadTfOptions): TfBackendPreference {
  const fromEnv = process.env[TF_BACKEND_ENV]?.trim().toLowerCase();
  if (fromEnv === undefined || fromEnv === '') return opts.prefer ?? 'auto';
  if (!(PREFERENCES as readonly string[]).includes(fromEnv)) {
    throw new ConfigError(
      `${TF_BACKEND_ENV}=${JSON.stringify(fromEnv)} is not a tfjs backend; use one of ` +
        `${PREFERENCES.join(', ')} (or unset it for auto)`,
      { env: TF_BACKEND_ENV, value: fromEnv },
    );
  }
  return fromEnv as TfBackendPreference;
}

async function load(opts: LoadTfOptions): Promise<LoadedTf> {
  const started = performance.now();
  const log = opts.log ?? ((msg: string) => console.warn(msg));
  const prefer = preferenceFrom(opts);
  const source = process.env[TF_BACKEND_ENV] ? `${TF_BACKEND_ENV}=${prefer}` : `prefer=${prefer}`;
  const skipped: string[] = [];

  if (prefer === 'auto' || prefer === 'node') {
    const native = await tryNode();
    if (typeof native !== 'string') {
      return done(
        native,
        'tensorflow',
        `native libtensorflow via @tensorflow/tfjs-node (${source})`,
      );
    }
    skipped.push(native);
  }

  const tf = await import('@tensorflow/tfjs');
  if (prefer !== 'cpu') {
    const wasm = await tryWasm(tf);
    if (wasm === undefined) {
      const why = skipped.length > 0 ? skipped.join('; ') : source;
      return done(tf, 'wasm', why);
    }
    skipped.push(wasm);
  }

  if (!(await tf.setBackend('cpu'))) {
    // Cannot happen with @tensorflow/tfjs, which bundles the cpu backend; say so if it does.
    throw new Error('tfjs: even the cpu backend failed to initialise');
  }
  await tf.ready();
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; our one log line
  // already says that, so mark the banner shown (a private field: harmless if it is renamed).
  const cpu = tf.backend() as { firstUse?: boolean };
  if (cpu.firstUse === true) cpu.firstUse = false;
  const why = prefer === 'cpu' ? source : `${skipped.join('; ')}; pure-JS cpu backend is slow`;
  return done(tf, 'cpu', why);

  function done(instance: Tf, backend: TfBackendName, reason: string): LoadedTf {
    const startupMs = performance.now() - started;
    log(`tfjs backend: ${backend} (${reason}; ready in ${startupMs.toFixed(0)} ms)`);
    return { tf: instance, backend, reason, startupMs };
  }
}

/** tfjs-node, or a short reason why not. */
async function tryNode(): Promise<Tf | string> {
  // A variable specifier: the package is optional, so TypeScript must not try to resolve it.
  const specifier: string = '@tensorflow/tfjs-node';
  try {
    const tf = (await import(specifier)) as Tf;
    await tf.ready();
    return tf.getBackend() === 'tensorflow' ? tf : 'tfjs-node loaded but its backend is not active';
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(specifier)) {
      return '@tensorflow/tfjs-node not installed';
    }
    return `@tensorflow/tfjs-node failed to load: ${firstLine(err)}`;
  }
}

/** Switches `tf` to wasm; undefined on success, else a short reason. */
async function tryWasm(tf: Tf): Promise<string | undefined> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Node's main entry is dist/tf-backend-wasm.node.js, beside the .wasm binaries.
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(dirname(main) + sep);
    // setBackend resolves false (after a console warning) rather than rejecting on failure.
    if (!(await tf.setBackend('wasm'))) return 'wasm backend failed to initialise';
    await tf.ready();
    return undefined;
  } catch (err) {
    return `wasm backend failed: ${firstLine(err)}`;
  }
}

function firstLine(err: unknown): string {
  const text =
    err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
  return text.split('\n', 1)[0] ?? text;
}
