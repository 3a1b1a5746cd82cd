import { describe, expect, it } from 'vitest';
import {
  decidePromotion,
  evaluationOf,
  HISTORY_LIMIT,
  NO_ALIASES,
  parseAliases,
  parseVersion,
  promoted,
  rolledBack,
  withChallenger,
} from '../../src/learn/promotion.js';

const scores = (candidate: number, champion: number | null, heuristic: number) => ({
  metric: 'hitRatio',
  requests: 1000,
  candidate,
  champion,
  heuristic,
});

describe('decidePromotion', () => {
  it('promotes only past max(champion, heuristic) by the margin', () => {
    expect(decidePromotion(scores(0.5, 0.4, 0.3), 0.002)).toMatchObject({
      promote: true,
      baseline: 0.4,
    });
    expect(decidePromotion(scores(0.401, 0.4, 0.3), 0.002).promote).toBe(false);
    expect(decidePromotion(scores(0.402, 0.4, 0.3), 0.002).promote).toBe(true);
  });

  it('measures against the heuristic when it beats the champion, or when there is none', () => {
    // The champion (0.2) is below LRU (0.45): beating the champion is not enough.
    const d = decidePromotion(scores(0.44, 0.2, 0.45), 0.002);
    expect(d).toMatchObject({ promote: false, baseline: 0.45 });
    expect(d.reason).toContain('heuristic');
    expect(decidePromotion(scores(0.46, null, 0.45), 0.002).promote).toBe(true);
    expect(decidePromotion(scores(0.451, null, 0.45), 0.002).promote).toBe(false);
  });

  it('needs a strict improvement even with margin 0, and never promotes a non-finite score', () => {
    expect(decidePromotion(scores(0.4, 0.4, 0.3), 0).promote).toBe(false);
    expect(decidePromotion(scores(0.40001, 0.4, 0.3), 0).promote).toBe(true);
    expect(decidePromotion(scores(Number.NaN, null, 0.3), 0).promote).toBe(false);
  });

  it('records the decision with its context', () => {
    const e = evaluationOf(scores(0.5, 0.4, 0.3), 0.01, {
      championVersion: 'n@1',
      heuristicId: 'lru',
      evaluatedAtMs: 42,
    });
    expect(e).toMatchObject({
      candidate: 0.5,
      champion: 0.4,
      heuristic: 0.3,
      baseline: 0.4,
      margin: 0.01,
      promote: true,
      championVersion: 'n@1',
      heuristicId: 'lru',
      evaluatedAtMs: 42,
    });
    expect(e.reason).toMatch(/beats the champion/);
  });
});

describe('aliases', () => {
  it('promotes: the old champion goes on the history, the challenger alias clears', () => {
    let a = withChallenger(NO_ALIASES, 'n@1');
    expect(a).toEqual({ champion: null, challenger: 'n@1', history: [] });
    a = promoted(a, 'n@1');
    expect(a).toEqual({ champion: 'n@1', challenger: null, history: [] });
    a = promoted(withChallenger(a, 'n@2'), 'n@2');
    expect(a).toEqual({ champion: 'n@2', challenger: null, history: ['n@1'] });
    // Promoting a named version keeps an unrelated challenger.
    a = promoted(withChallenger(a, 'n@4'), 'n@3');
    expect(a).toEqual({ champion: 'n@3', challenger: 'n@4', history: ['n@1', 'n@2'] });
    expect(promoted(a, 'n@3')).toBe(a);
  });

  it('rolls back to the previous champion, and has nothing to roll back to at first', () => {
    const a = { champion: 'n@3', challenger: 'n@4', history: ['n@1', 'n@2'] };
    expect(rolledBack(a)).toEqual({ champion: 'n@2', challenger: 'n@4', history: ['n@1'] });
    expect(rolledBack(rolledBack(rolledBack(a)!)!)).toBeUndefined();
    expect(rolledBack(NO_ALIASES)).toBeUndefined();
  });

  it('bounds the history', () => {
    let a = NO_ALIASES;
    for (let i = 1; i <= HISTORY_LIMIT + 5; i++) a = promoted(a, `n@${i}`);
    expect(a.history).toHaveLength(HISTORY_LIMIT);
    expect(a.history[a.history.length - 1]).toBe(`n@${HISTORY_LIMIT + 4}`);
  });

  it('parses stored aliases leniently and version names strictly', () => {
    expect(parseAliases({ champion: 'n@1', challenger: 7, history: ['n@0', null, ''] })).toEqual({
      champion: 'n@1',
      challenger: null,
      history: ['n@0'],
    });
    expect(parseAliases('garbage')).toEqual(NO_ALIASES);
    expect(parseVersion('cache-1@12')).toEqual({ target: 'cache-1', seq: 12 });
    expect(parseVersion('a@b@3')).toEqual({ target: 'a@b', seq: 3 });
    expect(parseVersion('cache-1')).toBeUndefined();
    expect(parseVersion('@3')).toBeUndefined();
    expect(parseVersion('n@x')).toBeUndefined();
  });
});
