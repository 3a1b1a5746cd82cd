/**
 * @module publish/nats-model-store
 * Saved models in the NATS Object Store bucket `prescient-models` (PRESCIENT_MODELS_BUCKET):
 * objects `eviction/<version>/model.json`, `…/weights.bin`, `…/metadata.json`, so caches on other
 * hosts can fetch the model the engine publishes in `eviction.<node>` (its `model.version`).
 */
import type { NatsConnection, ObjectStore } from 'nats';
import { MODEL_FILE_NAMES, type ModelFiles } from '../learn/model-files.js';

export class NatsModelObjectStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(
    nc: NatsConnection,
    bucket: string,
    replicas = 1,
  ): Promise<NatsModelObjectStore> {
    return new NatsModelObjectStore(await nc.jetstream().views.os(bucket, { replicas }));
  }

  /** Puts one version's three files; resolves to the object names. */
  async save(kind: string, version: string, files: ModelFiles): Promise<string[]> {
    const names: string[] = [];
    for (const file of MODEL_FILE_NAMES) {
      const name = `${kind}/${version}/${file}`;
      await this.os.putBlob({ name }, files[file]);
      names.push(name);
    }
    return names;
  }

  /** One object's bytes, or null when absent. */
  get(name: string): Promise<Uint8Array | null> {
    return this.os.getBlob(name);
  }
}
