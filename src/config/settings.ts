/**
 * @module config/settings
 * Typed settings read once from the environment at start. Every default lives in {@link SPEC};
 * README's configuration table is checked against it by a test. Values are validated here and
 * nowhere else: a bad value stops the engine at start with a message naming the variable.
 */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { Cron } from 'croner';
import { ConfigError } from '../errors.js';

/**
 * `text`: any string, never echoed in errors (token lists). `secret`: the same, and its value is
 * scrubbed from every log line ({@link secretValues}). `file`: a path to a readable file.
 * `cron`: a pattern, or empty / `off`.
 */
type Kind =
  | 'string'
  | 'key'
  | 'text'
  | 'secret'
  | 'file'
  | 'url'
  | 'int'
  | 'number'
  | 'list'
  | 'level'
  | 'cron';

interface Entry {
  readonly env: string;
  readonly kind: Kind;
  /** `undefined` means "not set" is meaningful (e.g. NATS_URL unset → embedded mode). */
  readonly default: string | undefined;
  readonly min?: number;
  readonly max?: number;
  readonly doc: string;
}

/** Every setting, its environment variable, default and meaning. Order = README order. */
export const SPEC = {
  natsUrl: {
    env: 'NATS_URL',
    kind: 'url',
    default: undefined,
    doc: 'NATS server(s), comma-separated (e.g. nats://127.0.0.1:4222). Unset: embedded in-process bus.',
  },
  natsUser: {
    env: 'NATS_USER',
    kind: 'text',
    default: undefined,
    doc: 'NATS user name; needs NATS_PASSWORD. Both may instead be in the URL: nats://user:password@host:4222.',
  },
  natsPassword: {
    env: 'NATS_PASSWORD',
    kind: 'secret',
    default: undefined,
    doc: 'Password of NATS_USER.',
  },
  natsToken: {
    env: 'NATS_TOKEN',
    kind: 'secret',
    default: undefined,
    doc: 'NATS authentication token (or in the URL: nats://token@host:4222). Use one way of authenticating: user and password, token, NKey seed or creds file.',
  },
  natsNkeySeedFile: {
    env: 'NATS_NKEY_SEED_FILE',
    kind: 'file',
    default: undefined,
    doc: 'File holding a NATS user NKey seed (SU…, as nk -gen user writes it); the server nonce is signed with it. Read at every connect.',
  },
  natsCredsFile: {
    env: 'NATS_CREDS_FILE',
    kind: 'file',
    default: undefined,
    doc: 'NATS credentials file (user JWT and NKey seed, as nsc writes it) for decentralized JWT auth. Read at every connect.',
  },
  natsTlsCaFile: {
    env: 'NATS_TLS_CA_FILE',
    kind: 'file',
    default: undefined,
    doc: "PEM CA certificate(s) the NATS server's certificate must chain to (default: the system CAs). Any NATS_TLS_* file or a tls:// URL makes TLS required.",
  },
  natsTlsCertFile: {
    env: 'NATS_TLS_CERT_FILE',
    kind: 'file',
    default: undefined,
    doc: 'PEM client certificate for NATS mutual TLS; needs NATS_TLS_KEY_FILE.',
  },
  natsTlsKeyFile: {
    env: 'NATS_TLS_KEY_FILE',
    kind: 'file',
    default: undefined,
    doc: 'PEM private key of NATS_TLS_CERT_FILE.',
  },
  redisUrl: {
    env: 'REDIS_URL',
    kind: 'url',
    default: undefined,
    doc: 'Redis for feature snapshots (e.g. redis://127.0.0.1:6379). Unset: in-memory state, nothing survives a restart.',
  },
  redisCluster: {
    env: 'REDIS_CLUSTER',
    kind: 'int',
    default: '0',
    min: 0,
    max: 1,
    doc: '1: REDIS_URL lists seed nodes of a Redis Cluster (comma-separated), and PRESCIENT_REDIS_PREFIX must carry a hash tag such as {prescient}: so every key the engine writes maps to one slot (its scripts and transactions touch several keys). docs/scaling.md.',
  },
  redisUsername: {
    env: 'REDIS_USERNAME',
    kind: 'text',
    default: undefined,
    doc: 'Redis ACL user (Redis 6+); needs REDIS_PASSWORD. Unset: the default user.',
  },
  redisPassword: {
    env: 'REDIS_PASSWORD',
    kind: 'secret',
    default: undefined,
    doc: "Redis password (requirepass, or the ACL user's). Or in the URL: redis://:password@host:6379 (redis://user:password@host:6379).",
  },
  redisTlsCaFile: {
    env: 'REDIS_TLS_CA_FILE',
    kind: 'file',
    default: undefined,
    doc: "PEM CA certificate(s) the Redis server's certificate must chain to (default: the system CAs). Any REDIS_TLS_* file or a rediss:// URL makes TLS required.",
  },
  redisTlsCertFile: {
    env: 'REDIS_TLS_CERT_FILE',
    kind: 'file',
    default: undefined,
    doc: 'PEM client certificate for Redis mutual TLS; needs REDIS_TLS_KEY_FILE.',
  },
  redisTlsKeyFile: {
    env: 'REDIS_TLS_KEY_FILE',
    kind: 'file',
    default: undefined,
    doc: 'PEM private key of REDIS_TLS_CERT_FILE.',
  },
  host: {
    env: 'HOST',
    kind: 'string',
    default: '127.0.0.1',
    doc: 'Address the REST API listens on (0.0.0.0 to expose it).',
  },
  port: {
    env: 'PORT',
    kind: 'int',
    default: '8080',
    min: 0,
    max: 65535,
    doc: 'Port of the REST API (0 = any free port).',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    kind: 'level',
    default: 'info',
    doc: 'fatal, error, warn, info, debug, trace or silent.',
  },
  subjectPrefix: {
    env: 'PRESCIENT_SUBJECT_PREFIX',
    kind: 'string',
    default: 'prescient',
    doc: 'First token of every subject (prescient.telemetry.>, prescient.deadletter.telemetry). Change only to isolate test environments.',
  },
  streamName: {
    env: 'PRESCIENT_STREAM',
    kind: 'string',
    default: 'PRESCIENT_TELEMETRY',
    doc: 'JetStream stream holding telemetry.',
  },
  streamMaxAgeSec: {
    env: 'PRESCIENT_STREAM_MAX_AGE_SEC',
    kind: 'int',
    default: '86400',
    min: 1,
    doc: 'Telemetry older than this is dropped from the stream (limits retention).',
  },
  streamMaxBytes: {
    env: 'PRESCIENT_STREAM_MAX_BYTES',
    kind: 'int',
    default: String(1024 ** 3),
    min: 1024 * 1024,
    doc: 'Maximum stream size in bytes; oldest messages go first.',
  },
  streamDuplicateWindowSec: {
    env: 'PRESCIENT_STREAM_DUPLICATE_WINDOW_SEC',
    kind: 'int',
    default: '120',
    min: 1,
    doc: 'Window in which a repeated Nats-Msg-Id is dropped by the server.',
  },
  streamReplicas: {
    env: 'PRESCIENT_STREAM_REPLICAS',
    kind: 'int',
    default: '1',
    min: 1,
    max: 5,
    doc: 'Stream replicas (1 for a single server, 3 in a cluster).',
  },
  deadLetterMaxAgeSec: {
    env: 'PRESCIENT_DEADLETTER_MAX_AGE_SEC',
    kind: 'int',
    default: '604800',
    min: 1,
    doc: 'How long dead letters are kept in stream PRESCIENT_DEADLETTER.',
  },
  consumerName: {
    env: 'PRESCIENT_CONSUMER',
    kind: 'string',
    default: 'prescient-engine',
    doc: 'Durable pull consumer the engine reads telemetry with.',
  },
  partitions: {
    env: 'PRESCIENT_PARTITIONS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 4096,
    doc: 'Scale-out (docs/scaling.md). 0: this engine holds all state. N ≥ 1: cache nodes are spread over N partitions by a hash of the node name; each replica holds the Redis leases of some and applies, checkpoints and publishes only theirs; the holder of partition 0 also holds the pools (latency, weights) and is the leader. Needs NATS_URL and REDIS_URL; every replica must use the same N.',
  },
  partitionSubjects: {
    env: 'PRESCIENT_PARTITION_SUBJECTS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 1,
    doc: "With PRESCIENT_PARTITIONS: 1 = the NATS server maps telemetry subjects to per-partition subjects (the mappings `prescient cluster nats-mappings` prints, docs/scaling.md), and each partition is read through its own durable consumer, shared by the replicas (its lease holder pulls): a replica receives only its partitions' telemetry. 0 = every replica reads the whole stream and passes over other partitions' messages.",
  },
  replicaId: {
    env: 'PRESCIENT_REPLICA_ID',
    kind: 'string',
    default: undefined,
    doc: 'Name of this replica in the leases (with PRESCIENT_PARTITIONS). Unset: the host name. Unique per running replica; a replica restarted under the same name takes its leases back at once.',
  },
  leaseTtlMs: {
    env: 'PRESCIENT_LEASE_TTL_MS',
    kind: 'int',
    default: '10000',
    min: 300,
    doc: 'Partition leases expire this long after their holder stops renewing them (renewed every third of it): the failover time of a killed replica.',
  },
  consumerAckWaitSec: {
    env: 'PRESCIENT_CONSUMER_ACK_WAIT_SEC',
    kind: 'int',
    default: '120',
    min: 5,
    doc: 'Redelivery timeout; must exceed the snapshot interval because acks wait for the checkpoint.',
  },
  consumerMaxAckPending: {
    env: 'PRESCIENT_CONSUMER_MAX_ACK_PENDING',
    kind: 'int',
    default: '50000',
    min: 100,
    doc: 'Messages applied but not yet checkpointed that the server lets the engine hold.',
  },
  fetchBatch: {
    env: 'PRESCIENT_FETCH_BATCH',
    kind: 'int',
    default: '256',
    min: 1,
    max: 10000,
    doc: 'Messages pulled per fetch.',
  },
  kvBucket: {
    env: 'PRESCIENT_KV_BUCKET',
    kind: 'string',
    default: 'prescient-policy',
    doc: 'NATS KV bucket the policies are published to.',
  },
  redisPrefix: {
    env: 'PRESCIENT_REDIS_PREFIX',
    kind: 'key',
    default: 'prescient:',
    doc: 'Prefix of every Redis key the engine writes.',
  },
  snapshotIntervalMs: {
    env: 'PRESCIENT_SNAPSHOT_INTERVAL_MS',
    kind: 'int',
    default: '5000',
    min: 100,
    doc: 'Feature-store checkpoint to Redis; telemetry is acked after the checkpoint that holds it.',
  },
  maxTrackedKeys: {
    env: 'PRESCIENT_MAX_TRACKED_KEYS',
    kind: 'int',
    default: '1000000',
    min: 16,
    doc: 'Keys tracked over all nodes; past it a sampled least-frequently-used key is forgotten.',
  },
  decayHalfLivesSec: {
    env: 'PRESCIENT_DECAY_HALF_LIVES_SEC',
    kind: 'list',
    default: '60,600,3600',
    doc: 'Half-lives of the decayed access counters per key (seconds, comma-separated, 1 to 4 of them).',
  },
  latencyWindowSec: {
    env: 'PRESCIENT_LATENCY_WINDOW_SEC',
    kind: 'int',
    default: '10',
    min: 1,
    doc: 'Window of the per-backend latency percentiles. Short, so a recovered backend regains its share within seconds.',
  },
  ewmaTauMs: {
    env: 'PRESCIENT_EWMA_TAU_MS',
    kind: 'int',
    default: '2000',
    min: 1,
    doc: 'Time constant of the per-backend EWMA and peak-EWMA latency and error rate. 2 s lets weights leave a backend that turned slow within seconds (Finagle uses 10 s).',
  },
  seriesStepSec: {
    env: 'PRESCIENT_SERIES_STEP_SEC',
    kind: 'int',
    default: '60',
    min: 1,
    doc: 'Bucket width of the request-rate series.',
  },
  seriesHistorySteps: {
    env: 'PRESCIENT_SERIES_HISTORY_STEPS',
    kind: 'int',
    default: '10080',
    min: 2,
    doc: 'Buckets kept per series (10080 × 60 s = one week).',
  },
  maxSeries: {
    env: 'PRESCIENT_MAX_SERIES',
    kind: 'int',
    default: '10000',
    min: 1,
    doc: 'Series tracked at most; new series past it are counted and dropped.',
  },
  maxUnknownFields: {
    env: 'PRESCIENT_MAX_UNKNOWN_FIELDS',
    kind: 'int',
    default: '8',
    min: 0,
    doc: 'Unknown fields tolerated per event (ignored); more and the event is rejected.',
  },
  maxMessageBytes: {
    env: 'PRESCIENT_MAX_MESSAGE_BYTES',
    kind: 'int',
    default: String(8 * 1024 * 1024),
    min: 1024,
    doc: 'Largest telemetry message decoded; larger ones are dead-lettered whole.',
  },
  publishIntervalMs: {
    env: 'PRESCIENT_PUBLISH_INTERVAL_MS',
    kind: 'int',
    default: '1000',
    min: 50,
    doc: 'The publication tick: overrides re-read and expired, eviction shadows trained, forecasts updated, unchanged documents refreshed before their TTL, and changed targets published when PRESCIENT_PUBLISH_MIN_INTERVAL_MS is 0.',
  },
  publishMinIntervalMs: {
    env: 'PRESCIENT_PUBLISH_MIN_INTERVAL_MS',
    kind: 'int',
    default: '100',
    min: 0,
    doc: 'Targets changed by telemetry are published as soon as it is applied, all changed targets together at most once per this many ms (coalescing bursts). 0 = only at the PRESCIENT_PUBLISH_INTERVAL_MS tick.',
  },
  policyTtlMs: {
    env: 'PRESCIENT_POLICY_TTL_MS',
    kind: 'int',
    default: '30000',
    min: 1000,
    doc: 'ttlMs of published documents; unchanged targets are re-published at half of it.',
  },
  victimsPerNode: {
    env: 'PRESCIENT_VICTIMS_PER_NODE',
    kind: 'int',
    default: '100',
    min: 1,
    max: 10000,
    doc: 'Eviction candidates per node in eviction.<node>.',
  },
  weigher: {
    env: 'PRESCIENT_WEIGHER',
    kind: 'string',
    default: 'predictive',
    doc: 'Weigher publishing weights.<pool>: predictive (learned latency-vs-load curves), inverse-latency, peak-ewma, grpc-wrr or equal.',
  },
  victimRanker: {
    env: 'PRESCIENT_VICTIM_RANKER',
    kind: 'string',
    default: 'learned',
    doc: 'Ranker publishing eviction.<node>: learned (per-node model trained on a shadow cache replaying access telemetry; LRU order with reason FALLBACK until the node has a champion in the model registry) or lru.',
  },
  evictionCandidates: {
    env: 'PRESCIENT_EVICTION_CANDIDATES',
    kind: 'int',
    default: '400',
    min: 1,
    max: 100000,
    doc: 'Least recently used resident keys per node the learned ranker scores to pick the PRESCIENT_VICTIMS_PER_NODE victims.',
  },
  evictionShadowCapacity: {
    env: 'PRESCIENT_EVICTION_SHADOW_CAPACITY',
    kind: 'int',
    default: '0',
    min: 0,
    doc: "Keys held by the shadow cache each node's learned policy trains on; 0 = the node's resident key count when its shadow is created.",
  },
  evictionShadowMaxKeys: {
    env: 'PRESCIENT_EVICTION_SHADOW_MAX_KEYS',
    kind: 'int',
    default: '65536',
    min: 16,
    doc: 'Largest shadow cache in keys; a larger node is followed on a spatial sample of its keys (SHARDS), bounding the memory and replay time of training.',
  },
  evictionRetrainEvents: {
    env: 'PRESCIENT_EVICTION_RETRAIN_EVENTS',
    kind: 'int',
    default: '20000',
    min: 100,
    doc: "Access events between retrains of a node's eviction model (at least; later retrains wait 10 % of the events seen).",
  },
  evictionTrainBudgetMs: {
    env: 'PRESCIENT_EVICTION_TRAIN_BUDGET_MS',
    kind: 'int',
    default: '50',
    min: 1,
    doc: 'Event-loop time per publish tick spent replaying buffered access events into the shadow caches; events beyond the buffer are counted and dropped.',
  },
  modelDir: {
    env: 'PRESCIENT_MODEL_DIR',
    kind: 'string',
    default: 'models',
    doc: 'Directory of saved models: <dir>/<kind>/<version>/ (eviction: <node>@<n>, forecast: <series>@<n>) and the aliases mirror <dir>/<kind>/aliases.json (models/README.md).',
  },
  modelEvalRequests: {
    env: 'PRESCIENT_MODEL_EVAL_REQUESTS',
    kind: 'int',
    default: '50000',
    min: 100,
    doc: 'Recent requests kept per cache node (at least 4 × its shadow capacity) on which a challenger is evaluated against the champion and LRU before promotion.',
  },
  modelPromoteMargin: {
    env: 'PRESCIENT_MODEL_PROMOTE_MARGIN',
    kind: 'number',
    default: '0.002',
    min: 0,
    max: 1,
    doc: 'A challenger is promoted automatically only if its hit ratio beats max(champion, LRU) by this much (absolute); else it is kept as the challenger.',
  },
  retrainCronEviction: {
    env: 'PRESCIENT_RETRAIN_CRON_EVICTION',
    kind: 'cron',
    default: '*/15 * * * *',
    doc: 'When the eviction model of every cache node is retrained and evaluated (cron: 5 fields, or 6 with seconds first); empty or off = only on demand (POST /v1/models/eviction/retrain).',
  },
  retrainCronForecast: {
    env: 'PRESCIENT_RETRAIN_CRON_FORECAST',
    kind: 'cron',
    default: '0 * * * *',
    doc: 'When the forecast model of every pool and cache-node series is retrained and evaluated (cron, as PRESCIENT_RETRAIN_CRON_EVICTION); empty or off = only on demand (POST /v1/models/forecast/retrain).',
  },
  retrainJitterSec: {
    env: 'PRESCIENT_RETRAIN_JITTER_SEC',
    kind: 'int',
    default: '30',
    min: 0,
    doc: 'Each scheduled retrain waits a random delay up to this long first, so replicas do not retrain in lockstep.',
  },
  modelsBucket: {
    env: 'PRESCIENT_MODELS_BUCKET',
    kind: 'string',
    default: 'prescient-models',
    doc: 'NATS Object Store bucket saved models are also put into (eviction/<version>/model.json, …) when NATS_URL is set.',
  },
  forecastHorizonSteps: {
    env: 'PRESCIENT_FORECAST_HORIZON_STEPS',
    kind: 'int',
    default: '12',
    min: 1,
    max: 1000,
    doc: 'Steps forecast ahead for every pool and cache-node series (forecast.<series>).',
  },
  forecastRefitSec: {
    env: 'PRESCIENT_FORECAST_REFIT_SEC',
    kind: 'int',
    default: '3600',
    min: 1,
    doc: 'Refit the served forecaster of a series at most this often (seconds of event time).',
  },
  forecastSeasonSteps: {
    env: 'PRESCIENT_FORECAST_SEASON_STEPS',
    kind: 'int',
    default: '0',
    min: 0,
    doc: 'Daily season in steps; 0 = 86400 / PRESCIENT_SERIES_STEP_SEC.',
  },
  forecastMinSeasons: {
    env: 'PRESCIENT_FORECAST_MIN_SEASONS',
    kind: 'int',
    default: '2',
    min: 1,
    doc: 'Seasons of history a series needs before the served model is fit (before: seasonal naive, reason FALLBACK).',
  },
  forecastPromoteMargin: {
    env: 'PRESCIENT_FORECAST_PROMOTE_MARGIN',
    kind: 'number',
    default: '0.05',
    min: 0,
    max: 0.99,
    doc: "A forecast challenger is promoted automatically only if its MASE on the holdout is at most (1 − this) × the lower of the champion's and seasonal naive's (relative improvement); else it is kept as the challenger.",
  },
  tfBackend: {
    env: 'PRESCIENT_TF_BACKEND',
    kind: 'string',
    default: 'auto',
    doc: 'TensorFlow.js backend: auto (tfjs-node when installed, else wasm), node, wasm or cpu. Read by src/learn/tf.ts.',
  },
  httpBodyLimitBytes: {
    env: 'PRESCIENT_HTTP_BODY_LIMIT_BYTES',
    kind: 'int',
    default: String(16 * 1024 * 1024),
    min: 1024,
    doc: 'Largest POST /v1/telemetry body; other routes take at most 1 MiB.',
  },
  apiTokens: {
    env: 'PRESCIENT_API_TOKENS',
    kind: 'text',
    default: undefined,
    doc: 'API bearer tokens as name:role:sha256hex entries separated by commas (role viewer, operator, admin or telemetry; the SHA-256 of the token, never the token). With no token configured here, in the file or created over the API, the engine generates one admin token at start and prints it once.',
  },
  apiTokensFile: {
    env: 'PRESCIENT_API_TOKENS_FILE',
    kind: 'string',
    default: undefined,
    doc: 'JSON file of API tokens: [{"name", "role", "sha256"}], read at start.',
  },
  overrideMaxTtlSec: {
    env: 'PRESCIENT_OVERRIDE_MAX_TTL_SEC',
    kind: 'int',
    default: String(7 * 24 * 3600),
    min: 1,
    doc: 'Longest ttlSec an override may ask for; every override expires on its own.',
  },
  writeRatePerMin: {
    env: 'PRESCIENT_WRITE_RATE_PER_MIN',
    kind: 'int',
    default: '120',
    min: 1,
    doc: 'Control-plane writes (overrides, models, tokens) allowed per token per minute, in bursts of up to the same number; more get 429.',
  },
  heuristicWeigher: {
    env: 'PRESCIENT_HEURISTIC_WEIGHER',
    kind: 'string',
    default: 'inverse-latency',
    doc: 'The heuristic weigher that freeze and enforce overrides fall back to, and that explanations compare with.',
  },
} as const satisfies Record<string, Entry>;

type Spec = typeof SPEC;
type ValueOf<E extends Entry> = E['kind'] extends 'int' | 'number'
  ? number
  : E['kind'] extends 'list'
    ? number[]
    : E['kind'] extends 'level'
      ? LogLevel
      : E['default'] extends string
        ? string
        : string | undefined;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The validated settings. Field names carry units (`…Ms`, `…Sec`, `…Bytes`). */
export type Settings = { readonly [K in keyof Spec]: ValueOf<Spec[K]> };

/** Credentials in URLs (`nats://user:pass@`, `redis://:pass@`, even malformed ones) hidden. */
function hideCredentials(url: string): string {
  return url.replace(/\/\/[^,]*@/g, '//[redacted]@');
}

/** A value as a config error may show it: secrets and token lists never, URLs without credentials. */
function shown(kind: Kind, value: string): string {
  if (kind === 'text' || kind === 'secret') return '(hidden)';
  return JSON.stringify(kind === 'url' ? hideCredentials(value) : value);
}

function parse(name: keyof Spec, entry: Entry, raw: string | undefined): unknown {
  // An empty cron pattern means "no schedule", not "the default schedule".
  if (entry.kind === 'cron' && raw !== undefined && /^\s*(off)?\s*$/i.test(raw)) return '';
  const value = raw === undefined || raw.trim() === '' ? entry.default : raw.trim();
  if (value === undefined) return undefined;
  const bad = (why: string): never => {
    throw new ConfigError(
      `${entry.env}=${shown(entry.kind, value)} is invalid: ${why}. ${entry.doc}`,
      {
        setting: name,
        env: entry.env,
      },
    );
  };
  const bounded = (n: number): number => {
    if (entry.min !== undefined && n < entry.min) bad(`must be ≥ ${entry.min}`);
    if (entry.max !== undefined && n > entry.max) bad(`must be ≤ ${entry.max}`);
    return n;
  };
  switch (entry.kind) {
    case 'text':
    case 'secret':
      return value;
    case 'file':
      try {
        accessSync(value, fsConstants.R_OK);
        if (!statSync(value).isFile()) bad('not a regular file');
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        bad(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      return value;
    case 'cron':
      try {
        new Cron(value).stop();
      } catch (err) {
        bad(`not a cron pattern (${(err as Error).message})`);
      }
      return value;
    case 'string':
      if (!/^[A-Za-z0-9_.:\-/]+$/.test(value)) bad('use letters, digits and _ . : - / only');
      return value;
    case 'key':
      // A Redis key prefix: also { } for a Redis Cluster hash tag.
      if (!/^[A-Za-z0-9_.:\-/{}]+$/.test(value)) bad('use letters, digits and _ . : - / { } only');
      return value;
    case 'url':
      for (const part of value.split(',')) {
        try {
          new URL(part.trim());
        } catch {
          bad(
            `"${hideCredentials(part)}" is not a URL (expected e.g. nats://127.0.0.1:4222 or redis://127.0.0.1:6379)`,
          );
        }
      }
      return value;
    case 'int': {
      if (!/^-?\d+$/.test(value)) bad('must be a whole number');
      return bounded(Number(value));
    }
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) bad('must be a finite number');
      return bounded(n);
    }
    case 'list': {
      const items = value.split(',').map((s) => Number(s.trim()));
      if (
        items.length < 1 ||
        items.length > 4 ||
        items.some((n) => !Number.isFinite(n) || n <= 0)
      ) {
        bad('must be 1 to 4 positive numbers separated by commas');
      }
      return items;
    }
    case 'level':
      if (!LEVELS.includes(value as LogLevel)) bad(`must be one of ${LEVELS.join(', ')}`);
      return value;
  }
}

/**
 * Reads and validates every setting. `overrides` (by setting name) win over the environment;
 * tests and the bench command use them to isolate stream, bucket and key names.
 * @throws ConfigError naming the first invalid variable.
 */
export function loadSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<Record<keyof Spec, string | number | undefined>> = {},
): Settings {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(SPEC) as [keyof Spec, Entry][]) {
    const o = overrides[name];
    const raw = name in overrides ? (o === undefined ? undefined : String(o)) : env[entry.env];
    out[name] = parse(name, entry, raw);
  }
  const s = out as Settings;
  if (s.consumerAckWaitSec * 1000 <= s.snapshotIntervalMs * 2) {
    throw new ConfigError(
      `PRESCIENT_CONSUMER_ACK_WAIT_SEC (${s.consumerAckWaitSec}) must exceed twice PRESCIENT_SNAPSHOT_INTERVAL_MS (${s.snapshotIntervalMs} ms): telemetry is acked only after the checkpoint that holds it.`,
    );
  }
  checkConnections(s);
  if (s.redisCluster === 1) {
    if (s.redisUrl === undefined)
      throw new ConfigError("REDIS_CLUSTER=1 needs REDIS_URL: the cluster's seed nodes.", {
        env: 'REDIS_CLUSTER',
      });
    if (!/\{[^{}]+\}/.test(s.redisPrefix))
      throw new ConfigError(
        `REDIS_CLUSTER=1 needs a hash tag in PRESCIENT_REDIS_PREFIX (e.g. {prescient}:), so that every key the engine writes maps to one slot; it is "${s.redisPrefix}".`,
        { env: 'PRESCIENT_REDIS_PREFIX' },
      );
  }
  if (s.partitionSubjects === 1 && s.partitions === 0)
    throw new ConfigError(
      'PRESCIENT_PARTITION_SUBJECTS=1 needs PRESCIENT_PARTITIONS ≥ 1 (the partition count of the NATS mappings).',
      { env: 'PRESCIENT_PARTITION_SUBJECTS' },
    );
  if (s.partitions > 0 && (s.natsUrl === undefined || s.redisUrl === undefined))
    throw new ConfigError(
      `PRESCIENT_PARTITIONS=${s.partitions} spreads state over replicas through NATS and Redis: set NATS_URL and REDIS_URL, or PRESCIENT_PARTITIONS=0 for one engine.`,
      { env: 'PRESCIENT_PARTITIONS' },
    );
  return s;
}

const NATS_SECURITY = [
  'natsUser',
  'natsPassword',
  'natsToken',
  'natsNkeySeedFile',
  'natsCredsFile',
  'natsTlsCaFile',
  'natsTlsCertFile',
  'natsTlsKeyFile',
] as const;
const REDIS_SECURITY = [
  'redisUsername',
  'redisPassword',
  'redisTlsCaFile',
  'redisTlsCertFile',
  'redisTlsKeyFile',
] as const;

/** `user:password` (or `token`) of each server in a comma-separated URL list that carries some. */
function urlCredentials(urls: string | undefined): string[] {
  if (urls === undefined) return [];
  return urls
    .split(',')
    .map((part) => new URL(part.trim()))
    .filter((u) => u.username !== '' || u.password !== '')
    .map((u) => `${u.username}:${u.password}`);
}

/**
 * Connection settings that cannot work together, refused at start with the variable to change:
 * credentials or TLS files for a server that is not configured, a user without a password, two
 * ways of authenticating, a certificate without its key, seed and creds files of the wrong kind.
 */
function checkConnections(s: Settings): void {
  const fail = (env: string, message: string): never => {
    throw new ConfigError(message, { env });
  };
  const unused = (keys: readonly (keyof Spec)[], url: string) => {
    const set = keys.find((k) => s[k] !== undefined);
    if (set !== undefined)
      fail(
        SPEC[set].env,
        `${SPEC[set].env} is set but ${url} is not, so it would be ignored: set ${url}, or unset ${SPEC[set].env}.`,
      );
  };
  const pair = (a: keyof Spec, b: keyof Spec) => {
    if ((s[a] === undefined) !== (s[b] === undefined)) {
      const [have, lack] = s[a] === undefined ? [b, a] : [a, b];
      fail(SPEC[lack].env, `${SPEC[have].env} is set without ${SPEC[lack].env}: set both.`);
    }
  };

  if (s.natsUrl === undefined) unused(NATS_SECURITY, 'NATS_URL');
  pair('natsUser', 'natsPassword');
  pair('natsTlsCertFile', 'natsTlsKeyFile');
  const inUrl = new Set(urlCredentials(s.natsUrl));
  if (inUrl.size > 1)
    fail(
      'NATS_URL',
      'the servers in NATS_URL carry different credentials, but one connection authenticates one way: put them in NATS_USER/NATS_PASSWORD or NATS_TOKEN instead.',
    );
  // [variable named in the error, how the message says it]
  const methods = (
    [
      [s.natsUser !== undefined, 'NATS_USER', 'NATS_USER/NATS_PASSWORD'],
      [s.natsToken !== undefined, 'NATS_TOKEN', 'NATS_TOKEN'],
      [s.natsNkeySeedFile !== undefined, 'NATS_NKEY_SEED_FILE', 'NATS_NKEY_SEED_FILE'],
      [s.natsCredsFile !== undefined, 'NATS_CREDS_FILE', 'NATS_CREDS_FILE'],
      [inUrl.size > 0, 'NATS_URL', 'credentials in NATS_URL'],
    ] as const
  ).filter(([set]) => set);
  if (methods.length > 1)
    fail(
      methods[1]![1],
      `NATS authentication is configured more than once (${methods.map((m) => m[2]).join(', ')}); the connection uses one: keep one of them.`,
    );
  if (
    s.natsNkeySeedFile !== undefined &&
    !/^SU[A-Z2-7]{56}$/.test(readFileSync(s.natsNkeySeedFile, 'utf8').trim())
  )
    fail(
      'NATS_NKEY_SEED_FILE',
      `NATS_NKEY_SEED_FILE=${s.natsNkeySeedFile} does not hold a user NKey seed (one line of 58 characters starting with SU, as nk -gen user writes it).`,
    );
  if (s.natsCredsFile !== undefined) {
    const creds = readFileSync(s.natsCredsFile, 'utf8');
    if (!creds.includes('BEGIN NATS USER JWT') || !creds.includes('BEGIN USER NKEY SEED'))
      fail(
        'NATS_CREDS_FILE',
        `NATS_CREDS_FILE=${s.natsCredsFile} is not a NATS credentials file (it needs the "BEGIN NATS USER JWT" and "BEGIN USER NKEY SEED" blocks nsc writes).`,
      );
  }

  if (s.redisUrl === undefined) unused(REDIS_SECURITY, 'REDIS_URL');
  if (s.redisUsername !== undefined) pair('redisUsername', 'redisPassword');
  pair('redisTlsCertFile', 'redisTlsKeyFile');
  if (s.redisPassword !== undefined && urlCredentials(s.redisUrl).length > 0)
    fail(
      'REDIS_PASSWORD',
      'REDIS_URL carries credentials and REDIS_PASSWORD is set too: keep them in one place.',
    );
}

/**
 * The secret values among the settings (kind `secret`, and passwords and tokens in NATS_URL and
 * REDIS_URL, as written and decoded). The logger scrubs them from every line it writes, a second
 * guard after "never put them in a log field". Values shorter than 4 characters are left out:
 * scrubbing those would mangle ordinary words.
 */
export function secretValues(s: Settings): string[] {
  const out = new Set<string>();
  for (const [name, entry] of Object.entries(SPEC) as [keyof Spec, Entry][]) {
    const v = s[name];
    if (entry.kind === 'secret' && typeof v === 'string') out.add(v);
  }
  for (const urls of [s.natsUrl, s.redisUrl]) {
    for (const part of urls?.split(',') ?? []) {
      const u = new URL(part.trim());
      // nats://token@host: a user name alone is a token.
      const secret =
        u.password !== '' ? u.password : u.protocol.startsWith('redis') ? '' : u.username;
      if (secret === '') continue;
      out.add(secret);
      try {
        out.add(decodeURIComponent(secret));
      } catch {
        // A stray % that is no escape: the secret is used as written.
      }
    }
  }
  return [...out].filter((v) => v.length >= 4);
}

/** Names derived from the settings: subjects, streams and Redis keys, in one place. */
export function names(
  s: Pick<Settings, 'subjectPrefix' | 'redisPrefix' | 'streamName' | 'kvBucket'>,
) {
  return {
    telemetryWildcard: `${s.subjectPrefix}.telemetry.>`,
    accessSubject: (node: string) => `${s.subjectPrefix}.telemetry.access.${node}`,
    latencySubject: (proxy: string) => `${s.subjectPrefix}.telemetry.latency.${proxy}`,
    deadLetterSubject: `${s.subjectPrefix}.deadletter.telemetry`,
    /** PRESCIENT_PARTITION_SUBJECTS: what the NATS mappings make of partition p's telemetry. */
    partitionWildcard: (p: number) => `${s.subjectPrefix}.telemetry.p.${p}.>`,
    deadLetterWildcard: `${s.subjectPrefix}.deadletter.>`,
    deadLetterStream: `${s.streamName.replace(/_TELEMETRY$/, '')}_DEADLETTER`,
    kvBucket: s.kvBucket,
    redisSnapshotKey: `${s.redisPrefix}features:snapshot`,
  };
}
export type Names = ReturnType<typeof names>;
