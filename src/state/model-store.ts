/**
 * @module state/model-store
 * Saved learned models on disk: `<root>/<version>/{model.json, weights.bin, metadata.json}`
 * (the engine's root is `<PRESCIENT_MODEL_DIR>/eviction`; see models/README.md). Writes go to a
 * temporary directory renamed into place, so a reader never sees half a version. Loading checks
 * the files ({@link decodeModelFiles}) and refuses a corrupt or NaN-producing model with
 * `PRESCIENT_E_MODEL_INVALID`.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelInvalidError, NotFoundError } from '../errors.js';
import {
  decodeModelFiles,
  MODEL_FILE_NAMES,
  type LoadedEvictionModel,
  type ModelFiles,
  type StoredModelFiles,
} from '../learn/model-files.js';

export interface ModelStore {
  readonly kind: string;
  /** Writes one version's files; resolves to where they went. */
  save(version: string, files: ModelFiles): Promise<string>;
  /**
   * Reads and checks one version.
   * @throws ModelInvalidError (`PRESCIENT_E_MODEL_INVALID`) for a corrupt or NaN-producing model;
   *   NotFoundError when the version does not exist.
   */
  load(version: string): Promise<LoadedEvictionModel>;
  /** Saved versions, sorted. */
  list(): Promise<string[]>;
  /**
   * One version's files as stored, unchecked (metadata.json may be missing).
   * @throws NotFoundError when the version or its model.json / weights.bin is missing.
   */
  readFiles(version: string): Promise<StoredModelFiles>;
}

/** Version names become directory names: no separators, no dot-dot. */
function checkVersion(version: string): void {
  if (!/^[A-Za-z0-9_.:@-]+$/.test(version) || version.startsWith('.')) {
    throw new ModelInvalidError(
      `model version ${JSON.stringify(version)} is not a safe directory name`,
      { version },
    );
  }
}

export class FsModelStore implements ModelStore {
  readonly kind = 'fs';

  constructor(readonly root: string) {}

  async save(version: string, files: ModelFiles): Promise<string> {
    checkVersion(version);
    const dir = join(this.root, version);
    const tmp = join(this.root, `.${version}.${process.pid}.tmp`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    for (const name of MODEL_FILE_NAMES) await writeFile(join(tmp, name), files[name]);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  }

  async load(version: string): Promise<LoadedEvictionModel> {
    checkVersion(version);
    return loadModelDir(join(this.root, version));
  }

  async readFiles(version: string): Promise<StoredModelFiles> {
    checkVersion(version);
    return readModelDir(join(this.root, version));
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/** Reads and checks the model in one version directory (also used by the cache-side adapter). */
export async function loadModelDir(dir: string): Promise<LoadedEvictionModel> {
  return decodeModelFiles(await readModelDir(dir));
}

async function readModelDir(dir: string): Promise<StoredModelFiles> {
  const read = async (name: string): Promise<Uint8Array> => {
    try {
      return await readFile(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`no ${name} in model directory ${dir}`);
      }
      throw err;
    }
  };
  const [modelJson, weightsBin] = await Promise.all([read('model.json'), read('weights.bin')]);
  const metadata = await read('metadata.json').catch(() => undefined);
  return {
    'model.json': modelJson,
    'weights.bin': weightsBin,
    ...(metadata === undefined ? {} : { 'metadata.json': metadata }),
  };
}
