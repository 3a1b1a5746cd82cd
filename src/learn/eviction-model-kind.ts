/**
 * @module learn/eviction-model-kind
 * The `eviction` kind of the model registry: targets are cache nodes, versions `<node>@<n>`.
 *
 * - Candidates come from the node's shadow cache ({@link LearnedEvictionTrainer}): a retrain now
 *   (schedule, `POST /v1/models/eviction/retrain`) or its latest online model (the node's first
 *   champion).
 * - Evaluation replays the node's recent requests (the trainer's ring, already applied) into
 *   three caches of the shadow's capacity — challenger, champion, LRU — with
 *   {@link ReplayEvaluator}, in chunks that yield to the event loop; a window shorter than 3 × the
 *   capacity is too short to tell (the caches would barely turn over). A candidate scoring NaN or
 *   ±∞ on any request is refused.
 * - The champion is installed in `serving`, the map the `learned` victim ranker reads: what a
 *   node's `eviction.<node>` document is ranked with, and its `model.version`.
 */
import { ModelInvalidError } from '../errors.js';
import type { NodeEvictionModel } from '../policy/victim-ranker.js';
import { ReplayEvaluator } from './eviction/replay-eval.js';
import type { LearnedEvictionTrainer } from './learned-eviction-trainer.js';
import {
  decodeModelFiles,
  encodeModelFiles,
  type LoadedEvictionModel,
  type ModelFiles,
  type StoredModelFiles,
} from './model-files.js';
import type { ModelKindPlugin } from './model-registry.js';
import type { Evaluation, EvaluationScores } from './promotion.js';

export interface EvictionModelKindOptions {
  readonly trainer: LearnedEvictionTrainer;
  /** Champions by node, read by the victim ranker. */
  readonly serving: Map<string, NodeEvictionModel>;
  /** Told when a node's served model changed (its document is republished). */
  readonly onInstall?: (node: string) => void;
  /** Requests replayed between yields to the event loop. Default 8192. */
  readonly chunk?: number;
}

/** The window must hold this many times the shadow's capacity. */
const MIN_WINDOW_CAPACITIES = 3;

export class EvictionModelKind implements ModelKindPlugin<LoadedEvictionModel> {
  readonly kind = 'eviction';
  readonly heuristicId = 'lru';

  constructor(private readonly o: EvictionModelKindOptions) {}

  targets(): string[] {
    return this.o.trainer.nodeNames();
  }

  latest(node: string, version: (seq: number) => string): LoadedEvictionModel | undefined {
    return this.o.trainer.latest(node, version);
  }

  train(
    node: string,
    version: (seq: number) => string,
  ): { ok: true; model: LoadedEvictionModel } | { ok: false; reason: string } {
    return this.o.trainer.retrainNow(node, version);
  }

  versionOf(m: LoadedEvictionModel): string {
    return m.version;
  }

  encode(m: LoadedEvictionModel, evaluation: Evaluation | null): ModelFiles {
    const metadata = m.metadata ?? {
      node: m.node,
      version: m.version,
      retrains: m.model.version,
      trainingWindow: { firstRequestMs: Number.NaN, lastRequestMs: Number.NaN },
      features: [],
      metrics: {
        requests: 0,
        shadowHitRatio: 0,
        lruHitRatio: 0,
        capacity: 0,
        sampleRate: 1,
        droppedEvents: 0,
      },
      savedAtMs: 0,
    };
    return encodeModelFiles({ ...m, metadata: { ...metadata, version: m.version, evaluation } });
  }

  decode(files: StoredModelFiles): LoadedEvictionModel {
    return decodeModelFiles(files);
  }

  async evaluate(
    node: string,
    candidate: LoadedEvictionModel,
    champion: LoadedEvictionModel | undefined,
  ): Promise<{ ok: true; scores: EvaluationScores } | { ok: false; reason: string }> {
    const trainer = this.o.trainer;
    const capacity = trainer.capacity(node);
    const keys = trainer.recentRequests(node);
    const needed = MIN_WINDOW_CAPACITIES * capacity;
    if (capacity === 0 || keys.length < needed) {
      return {
        ok: false,
        reason: `too little recent telemetry to evaluate: ${keys.length} requests replayed, ${needed} needed (${MIN_WINDOW_CAPACITIES} × the shadow's ${capacity} keys)`,
      };
    }
    const ev = new ReplayEvaluator(keys.length, {
      capacity,
      candidate: candidate.model,
      champion: champion?.model,
      missingGapT: candidate.missingGapT,
      ...(champion ? { championMissingGapT: champion.missingGapT } : {}),
    });
    const chunk = Math.max(1, this.o.chunk ?? 8192);
    for (let i = 0; i < keys.length; i += chunk) {
      ev.feed(keys, i, Math.min(keys.length, i + chunk));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const r = ev.result();
    if (r.nonFiniteScores.candidate > 0) {
      throw new ModelInvalidError(
        `eviction model ${candidate.version} is invalid: it scored NaN or ±∞ ${r.nonFiniteScores.candidate} times on the node's recent requests`,
        { version: candidate.version },
      );
    }
    return {
      ok: true,
      scores: {
        metric: 'hitRatio',
        requests: r.countedRequests,
        candidate: r.candidate,
        champion: r.champion,
        heuristic: r.heuristic,
      },
    };
  }

  install(node: string, m: LoadedEvictionModel | undefined): void {
    if (m === undefined) this.o.serving.delete(node);
    else {
      this.o.serving.set(node, {
        model: m.model,
        timeScaleMs: m.timeScaleMs,
        missingGapT: m.missingGapT,
        version: m.version,
      });
    }
    this.o.onInstall?.(node);
  }
}
