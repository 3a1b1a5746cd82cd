import { describe, expect, it } from 'vitest';
import { Ingestor, type DeadLetter } from '../../src/telemetry/ingest.js';
import { REJECT_CODES } from '../../src/telemetry/decode.js';

/** An ingestor whose dead-letter sink JSON-encodes each letter, as the engine's does. */
function ingestor() {
  const wire: string[] = [];
  const ing = new Ingestor(
    { applyAccess: () => undefined, applyLatency: () => undefined },
    {
      send: (letters: readonly DeadLetter[]) =>
        letters.forEach((l) => wire.push(JSON.stringify(l))),
    },
    { subjectPrefix: 'p', limits: { maxUnknownFields: 8, maxMessageBytes: 8 * 1024 * 1024 } },
  );
  return { ing, wire };
}

describe('dead letters of hostile events (regressions found by test/fuzz)', () => {
  it('a rejected event nested 10,000 levels deep is dead-lettered, not thrown', () => {
    // JSON.parse reads any depth; JSON.stringify overflowed the stack in the dead-letter sink,
    // so the message threw out of handle() and POST /v1/telemetry answered 500.
    const { ing, wire } = ingestor();
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const out = ing.handle('p.telemetry.access.n1', `{"events":[${deep},{"ts":-1,"x":${deep}}]}`);
    expect(out).toEqual({ accepted: 0, rejected: 2 });
    const letters = wire.map((w) => JSON.parse(w) as DeadLetter);
    expect(letters.map((l) => [l.index, l.code])).toEqual([
      [0, REJECT_CODES.NOT_AN_OBJECT],
      [1, REJECT_CODES.OUT_OF_RANGE],
    ]);
    expect(letters[0]!.event).toMatch(/nested deeper than 64 levels/);
    expect(JSON.stringify(ing.recentDeadLetters())).toContain('nested deeper');
  });

  it('keeps an ordinary event as it is and a huge one as a bounded preview', () => {
    const { ing, wire } = ingestor();
    ing.handle('p.telemetry.access.n1', '{"ts":-1,"key":"k","hit":true}');
    ing.handle('p.telemetry.access.n1', `{"ts":-1,"key":"k","hit":true,"x":"${'y'.repeat(1e6)}"}`);
    const [small, big] = wire.map((w) => JSON.parse(w) as DeadLetter);
    expect(small!.event).toEqual({ ts: -1, key: 'k', hit: true });
    expect(typeof big!.event).toBe('string');
    expect((big!.event as string).length).toBeLessThanOrEqual(513);
    expect(big!.event as string).toMatch(/^\{"ts":-1,"key":"k","hit":true,"x":"yyy/);
  });
});
