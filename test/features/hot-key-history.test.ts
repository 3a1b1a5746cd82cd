import { describe, expect, it } from 'vitest';
import { HotKeyHistory } from '../../src/features/hot-key-history.js';

const H = 3_600_000;

describe('HotKeyHistory', () => {
  it('records the hottest keys when a slot ends and finds them at the same time next day', () => {
    const h = new HotKeyHistory(24, 2);
    let hot = [
      { key: 'a', count: 5 },
      { key: 'b', count: 3 },
      { key: 'c', count: 1 },
    ];
    expect(h.observe('n', 9 * H + 10, () => hot)).toBe(false); // first sight: nothing to close
    expect(h.observe('n', 9 * H + 20, () => hot)).toBe(false); // same slot
    expect(h.observe('n', 10 * H + 1, () => hot)).toBe(true); // 09:00-10:00 closed
    hot = [{ key: 'z', count: 9 }];
    expect(h.observe('n', 11 * H, () => hot)).toBe(true); // 10:00-11:00 closed
    // The next day at 09:30, the hint is what was hot in yesterday's 09:00 slot (top 2).
    expect(h.lookup('n', 24 * H + 9.5 * H)).toEqual({
      recordedAtMs: 10 * H + 1,
      keys: [
        { key: 'a', count: 5 },
        { key: 'b', count: 3 },
      ],
    });
    expect(h.lookup('n', 24 * H + 10.5 * H)?.keys).toEqual([{ key: 'z', count: 9 }]);
    expect(h.lookup('n', 12 * H)).toBeUndefined();
    expect(h.lookup('other', 9 * H)).toBeUndefined();
  });
});
