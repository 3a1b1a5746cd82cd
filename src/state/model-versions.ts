/**
 * @module state/model-versions
 * One model kind's saved versions for the registry: the model directory
 * (`<PRESCIENT_MODEL_DIR>/<kind>/<version>/`) first, and with NATS the Object Store bucket
 * (`<kind>/<version>/…`, PRESCIENT_MODELS_BUCKET) so other replicas find every version. A version
 * missing on local disk is fetched from the bucket and written to disk before use: a replica, or
 * a restart on a fresh disk, serves the same champion as the engine that trained it.
 */
import { NotFoundError } from '../errors.js';
import type { VersionStore } from '../learn/model-registry.js';
import type { ModelFiles, StoredModelFiles } from '../learn/model-files.js';
import type { NatsModelObjectStore } from '../publish/nats-model-store.js';
import type { FsModelStore } from './model-store.js';

export class ModelVersionStore implements VersionStore {
  constructor(
    private readonly kind: string,
    private readonly fs: FsModelStore,
    private readonly objects: NatsModelObjectStore | undefined,
  ) {}

  async save(version: string, files: ModelFiles): Promise<void> {
    await this.fs.save(version, files);
    await this.objects?.save(this.kind, version, files);
  }

  async read(version: string): Promise<StoredModelFiles> {
    try {
      return await this.fs.readFiles(version);
    } catch (err) {
      if (!(err instanceof NotFoundError) || this.objects === undefined) throw err;
    }
    const get = (file: string) => this.objects!.get(`${this.kind}/${version}/${file}`);
    const [model, weights, metadata] = await Promise.all([
      get('model.json'),
      get('weights.bin'),
      get('metadata.json'),
    ]);
    if (model === null || weights === null) {
      throw new NotFoundError(
        `no ${this.kind} model version "${version}" in ${this.fs.root} nor in the models bucket`,
      );
    }
    const files = {
      'model.json': model,
      'weights.bin': weights,
      'metadata.json': metadata ?? new TextEncoder().encode('{}'),
    };
    // Cached on disk as fetched: the registry checks the bytes whatever their source.
    await this.fs.save(version, files);
    return files;
  }

  list(): Promise<string[]> {
    return this.fs.list();
  }
}
