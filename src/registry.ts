/**
 * @module registry
 * The plug-in registry every algorithm family uses (eviction policies, weighers, forecasters),
 * after the caffeine simulator's and libCacheSim's: `register(id, factory)`, and an unknown id
 * fails listing the known ones.
 */
import { PrescientError, ERROR_CODES } from './errors.js';

export class Registry<T, Options = void> {
  private readonly factories = new Map<string, (options: Options) => T>();

  constructor(private readonly family: string) {}

  register(id: string, factory: (options: Options) => T): this {
    if (this.factories.has(id)) throw new Error(`${this.family} "${id}" is registered twice`);
    this.factories.set(id, factory);
    return this;
  }

  ids(): string[] {
    return [...this.factories.keys()].sort();
  }

  create(id: string, options: Options): T {
    const factory = this.factories.get(id);
    if (!factory) {
      throw new PrescientError(
        ERROR_CODES.CONFIG,
        `unknown ${this.family} "${id}"; known: ${this.ids().join(', ')}`,
        { statusCode: 400 },
      );
    }
    return factory(options);
  }
}
