import { afterEach, describe, expect, it } from 'vitest';
import { RetrainScheduler } from '../../src/learn/retrain-scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let scheduler: RetrainScheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
});

describe('RetrainScheduler', () => {
  it('runs a job on a seconds pattern, skipping runs while one is still going', async () => {
    const skipped: string[] = [];
    const errors: unknown[] = [];
    scheduler = new RetrainScheduler({
      onError: (_k, e) => errors.push(e),
      onSkip: (k) => skipped.push(k),
    });
    let runs = 0;
    let running = 0;
    let overlapped = false;
    scheduler.add({
      kind: 'eviction',
      pattern: '* * * * * *',
      jitterSec: 0,
      run: async () => {
        runs++;
        running++;
        if (running > 1) overlapped = true;
        await sleep(1500); // longer than the period: the next second's run must skip
        running--;
        if (runs === 1) throw new Error('boom');
      },
    });
    expect(scheduler.nextRuns()).toEqual([{ kind: 'eviction', nextRun: expect.any(Date) }]);
    await sleep(3600);
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(overlapped).toBe(false);
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(skipped.every((k) => k === 'eviction')).toBe(true);
    await scheduler.stop();
    expect(running).toBe(0); // stop waited for the run in progress
    expect(errors).toEqual([new Error('boom')]);
    const after = runs;
    await sleep(1200);
    expect(runs).toBe(after);
  }, 10_000);

  it('waits a random jitter before a run, and drops a waiting run on stop', async () => {
    scheduler = new RetrainScheduler({ onError: () => {}, random: () => 0.99 });
    let runs = 0;
    scheduler.add({
      kind: 'eviction',
      pattern: '* * * * * *',
      jitterSec: 30,
      run: () => {
        runs++;
        return Promise.resolve();
      },
    });
    await sleep(1300); // fired, now waiting ~29.7 s of jitter
    const t0 = Date.now();
    await scheduler.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(runs).toBe(0);
  }, 10_000);

  it('schedules nothing for an empty pattern', async () => {
    scheduler = new RetrainScheduler({ onError: () => {} });
    scheduler.add({ kind: 'eviction', pattern: '', jitterSec: 0, run: () => Promise.resolve() });
    expect(scheduler.nextRuns()).toEqual([]);
    await scheduler.stop();
  });
});
