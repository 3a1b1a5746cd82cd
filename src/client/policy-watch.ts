/**
 * @module client/policy-watch
 * Watches one key of the policy KV bucket (`prescient-policy`, key `weights.<pool>`) and hands
 * every new document to a callback, starting with the current one. Binds to the bucket without
 * creating it (the engine owns its settings) and retries until the engine has created it. Used by
 * the HAProxy agent and, through DocumentFollower, the SDK clients.
 */
import type { KvEntry, NatsConnection, QueuedIterator } from 'nats';

export interface PolicyWatchOptions {
  /** KV bucket, `prescient-policy` by default (PRESCIENT_KV_BUCKET). */
  readonly bucket: string;
  /** KV key, e.g. `weights.checkout`. */
  readonly key: string;
  /** Called with each parsed document, in revision order. */
  readonly onDocument: (doc: unknown, revision: number) => void;
  /** Called when a value cannot be parsed or the watch fails (it is retried). */
  readonly onError?: (err: Error) => void;
  /** Delay between attempts to bind to a bucket that does not exist yet. Default 1000 ms. */
  readonly retryMs?: number;
}

export interface PolicyWatch {
  /** Resolves once the watch is established (the bucket exists). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export function watchPolicyKey(nc: NatsConnection, o: PolicyWatchOptions): PolicyWatch {
  let stopped = false;
  let iter: QueuedIterator<KvEntry> | undefined;
  let wake: (() => void) | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const retryMs = o.retryMs ?? 1000;
  let lastRevision = 0;

  const run = async (): Promise<void> => {
    while (!stopped) {
      try {
        const kv = await nc.jetstream().views.kv(o.bucket, { bindOnly: true });
        iter = await kv.watch({
          key: o.key,
          ...(lastRevision > 0 ? { resumeFromRevision: lastRevision + 1 } : {}),
        });
        markReady();
        for await (const e of iter) {
          lastRevision = e.revision;
          if (e.operation !== 'PUT' || e.length === 0) continue;
          try {
            o.onDocument(e.json<unknown>(), e.revision);
          } catch (err) {
            o.onError?.(err as Error);
          }
        }
      } catch (err) {
        if (!stopped) o.onError?.(err as Error);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, retryMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  const done = run();
  return {
    ready,
    async stop() {
      stopped = true;
      iter?.stop();
      wake?.();
      markReady();
      await done;
    },
  };
}
