/** Policy documents and client hooks for the SDK client tests (test/client). */

/** A fixed epoch ms to start the injected clocks at. */
export const T0 = 1_800_000_000_000;

/**
 * A `<kind>.<target>` document as the engine publishes it (docs/protocol.md), with a heuristic
 * model and blank explanations on every entry.
 */
export function policyDocument<E extends object>(
  kind: string,
  target: string,
  modelId: string,
  d: { version: number; generatedAt: number; ttlMs: number; entries: readonly E[] },
) {
  return {
    kind,
    target,
    version: d.version,
    generatedAt: d.generatedAt,
    ttlMs: d.ttlMs,
    model: { id: modelId, version: 'heuristic' },
    entries: d.entries.map((e) => ({
      ...e,
      reason: 'HEURISTIC',
      text: '',
      attributions: {},
      inputs: {},
    })),
    reasons: [],
  };
}

/** The `now` and `onError` options of a client: reads `clock.now`, collects error messages. */
export function clientHooks(clock: { now: number }, errors: string[] = []) {
  return { now: () => clock.now, onError: (e: Error) => void errors.push(e.message) };
}
