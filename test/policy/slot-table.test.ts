import { describe, expect, it } from 'vitest';
import { SlotList, SlotTable } from '../../src/policy/slot-table.js';

describe('SlotTable', () => {
  it('by key id: alloc, lookup, release, slot reuse', () => {
    const t = new SlotTable(16);
    const a = t.alloc('a', 1, 0);
    const b = t.alloc('b', 2, 5);
    expect([t.lookup('a', 0), t.lookup('b', 5), t.lookup('c', 3)]).toEqual([a, b, -1]);
    // An id beyond anything allocated so far is simply absent.
    expect(t.lookup('z', 1_000_000)).toBe(-1);
    expect([t.idOf(a), t.idOf(b), t.size]).toEqual([0, 5, 2]);
    expect([t.keys[b], t.weight[b]]).toEqual(['b', 2]);
    t.release(a);
    expect([t.lookup('a', 0), t.size, t.keys[a]]).toEqual([-1, 1, undefined]);
    // The freed slot is reused, under another id.
    const c = t.alloc('c', 1, 3);
    expect(c).toBe(a);
    expect([t.lookup('c', 3), t.lookup('a', 0), t.idOf(c)]).toEqual([c, -1, 3]);
  });

  it('by key id: grows the slots and the id → slot array past their initial size', () => {
    const t = new SlotTable(16);
    const list = new SlotList(t);
    const n = 5000;
    // Ids far apart from the slots: id = 3 i + 7.
    for (let i = 0; i < n; i++) list.pushFront(t.alloc(`k${i}`, 1, 3 * i + 7));
    expect(t.capacity).toBeGreaterThanOrEqual(n);
    expect(t.size).toBe(n);
    for (let i = 0; i < n; i++) {
      const s = t.lookup(`k${i}`, 3 * i + 7);
      expect(t.keys[s]).toBe(`k${i}`);
      expect(t.lookup(`x${i}`, 3 * i + 8)).toBe(-1);
    }
    // The list links survived the growth: tail to head is insertion order.
    const order: string[] = [];
    for (let s = list.tail; s !== -1; s = t.prev[s]!) order.push(t.keys[s]!);
    expect(order).toEqual(Array.from({ length: n }, (_, i) => `k${i}`));
    for (let i = 0; i < n; i += 2) t.release(t.lookup(`k${i}`, 3 * i + 7));
    expect(t.size).toBe(n / 2);
    expect(t.lookup('k0', 7)).toBe(-1);
    expect(t.keys[t.lookup('k1', 10)]).toBe('k1');
  });

  it('counts its bytes: the typed arrays at their allocated length, key references, the Map', () => {
    // 29 B of typed arrays per allocated slot (weight 8, prev, next, aux, free, idBySlot 4 each,
    // tag 1), 8 B per key reference, and in key mode 48 B per indexed key.
    const byKey = new SlotTable(16);
    expect(byKey.bytes).toBe(16 * 29);
    for (let i = 0; i < 100; i++) byKey.alloc(`k${i}`, 1);
    // The slots doubled from 16 to 128.
    expect(byKey.capacity).toBe(128);
    expect(byKey.bytes).toBe(128 * 29 + 100 * 8 + 100 * 48);
    byKey.release(byKey.lookup('k0'));
    expect(byKey.bytes).toBe(128 * 29 + 100 * 8 + 99 * 48);
    // By id: no Map, but the id → slot array (4 B per id up to the largest seen, doubling).
    const byId = new SlotTable(16);
    for (let i = 0; i < 100; i++) byId.alloc(`k${i}`, 1, 2 * i);
    expect(byId.bytes).toBe(128 * 29 + 100 * 8 + 4 * 256);
  });

  it('slotOf finds a key by its string in both modes', () => {
    const byId = new SlotTable(16);
    const byKey = new SlotTable(16);
    for (const [i, k] of ['a', 'b', 'c'].entries()) {
      byId.alloc(k, 1, i);
      byKey.alloc(k, 1);
    }
    byId.release(byId.lookup('b', 1));
    byKey.release(byKey.lookup('b'));
    for (const t of [byId, byKey]) {
      expect(['a', 'b', 'c', 'd'].map((k) => t.slotOf(k) !== -1)).toEqual([
        true,
        false,
        true,
        false,
      ]);
    }
    expect(byKey.idOf(byKey.slotOf('a'))).toBe(-1);
  });

  it('a request without an id moves an id table to keys for good; ids are then ignored', () => {
    const t = new SlotTable(16);
    const a = t.alloc('a', 1, 0);
    const b = t.alloc('b', 1, 1);
    t.release(a);
    // No id: the table rebuilds its Map from the live keys.
    expect(t.lookup('b')).toBe(b);
    expect(t.lookup('a')).toBe(-1);
    const c = t.alloc('c', 1, 2);
    expect([t.lookup('c'), t.lookup('c', 2), t.lookup('b', 99), t.idOf(c)]).toEqual([c, c, b, -1]);
    t.release(b);
    expect([t.lookup('b'), t.slotOf('b'), t.size]).toEqual([-1, -1, 1]);
    // A table that started by key ignores ids.
    const k = new SlotTable(16);
    const x = k.alloc('x', 1);
    expect([k.lookup('x', 4), k.lookup('y', 0)]).toEqual([x, -1]);
    const y = k.alloc('y', 1, 0);
    expect([k.lookup('y'), k.lookup('x', 0)]).toEqual([y, x]);
  });
});
