import { describe, expect, it, vi } from 'vitest';

import { ERROR_CODES } from '../../src/errors.js';

import { loadTf } from '../../src/learn/tf.js';

describe('loadTf', () => {
  it('loads one backend, logs one line naming it, and is memoized', async () => {
    const lines: string[] = [];
    const first = await loadTf({ log: (msg) => lines.push(msg) });
    const second = await loadTf({ prefer: 'cpu', log: (msg) => lines.push(msg) });

    expect(second).toBe(first);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(first.backend);
    expect(first.tf.getBackend()).toBe(first.backend);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^tfjs backend: ${first.backend} \\(`));
    // Without tfjs-node (CI installs no native libtensorflow) the wasm backend must run, not cpu.
    if (first.backend !== 'tensorflow' && process.env['PRESCIENT_TF_BACKEND'] === undefined) {
      expect(first.backend).toBe('wasm');
    }
    // Startup is reported; wasm in Node is well under a few seconds.
    expect(first.startupMs).toBeGreaterThan(0);
    console.info(lines[0]);
  });

  it('computes a matMul with exact values on that backend', async () => {
    const { tf } = await loadTf();
    const a = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tf.tensor2d([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);
    const product = tf.matMul(a, b);
    expect(product.shape).toEqual([2, 2]);
    expect(Array.from(await product.data())).toEqual([58, 64, 139, 154]);
    tf.dispose([a, b, product]);
  });

  it('tf.tidy leaves the tensor count unchanged across repeated calls', async () => {
    const { tf } = await loadTf();
    const weights = tf.tensor2d([
      [0.5, -1],
      [2, 0.25],
    ]);
    const before = tf.memory().numTensors;
    const sums: number[] = [];
    for (let i = 0; i < 50; i++) {
      const sum = tf.tidy(() => {
        const x = tf.fill([4, 2], i);
        return tf.relu(tf.matMul(x, weights)).sum().arraySync() as number;
      });
      sums.push(sum);
      expect(tf.memory().numTensors).toBe(before);
    }
    // x·W has columns 2.5i and −0.75i; relu keeps 2.5i; four rows → 10i.
    expect(sums[7]).toBe(70);
    weights.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  // These two load fresh copies of the module; the cpu one switches the process-wide engine, so
  // it runs last.
  it('rejects an unknown PRESCIENT_TF_BACKEND with a config error', async () => {
    vi.resetModules();
    vi.stubEnv('PRESCIENT_TF_BACKEND', 'gpu');
    try {
      const fresh = await import('../../src/learn/tf.js');
      await expect(fresh.loadTf({ log: () => {} })).rejects.toMatchObject({
        code: ERROR_CODES.CONFIG,
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('honours PRESCIENT_TF_BACKEND=cpu over prefer', async () => {
    vi.resetModules();
    vi.stubEnv('PRESCIENT_TF_BACKEND', 'cpu');
    try {
      const fresh = await import('../../src/learn/tf.js');
      const lines: string[] = [];
      const { tf, backend } = await fresh.loadTf({ prefer: 'wasm', log: (msg) => lines.push(msg) });
      expect(backend).toBe('cpu');
      expect(tf.getBackend()).toBe('cpu');
      expect(lines).toEqual([
        expect.stringMatching(/^tfjs backend: cpu \(PRESCIENT_TF_BACKEND=cpu/),
      ]);
      const product = tf.tidy(() =>
        tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync(),
      );
      expect(Array.from(product)).toEqual([11]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
