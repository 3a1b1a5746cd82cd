import { describe, expect, it } from 'vitest';
import {
  intervalLatencyMs,
  isStale,
  observations,
  parseServersState,
  parseShowStat,
  RTIME_WINDOW_SAMPLES,
  serverStats,
  weightCommands,
} from '../../src/publish/haproxy.js';

// Trimmed `show stat` of HAProxy 2.6 (real column names, fewer columns).
const CSV = `# pxname,svname,qcur,scur,stot,status,weight,type,rtime,req_tot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,lbtot,
fe,FRONTEND,,3,100,OPEN,,0,,100,0,100,0,0,0,0,,
be,s1,0,2,60,UP,256,2,12,60,0,58,0,0,2,0,60,
be,s2,1,1,40,UP,100,2,40,40,0,40,0,0,0,0,40,
be,BACKEND,0,3,100,UP,356,1,20,100,0,98,0,0,2,0,100,
`;

describe('show stat', () => {
  it('parses server rows of one backend', () => {
    const s = serverStats(parseShowStat(CSV), 'be');
    expect(s.map((x) => x.server)).toEqual(['s1', 's2']);
    expect(s[0]).toMatchObject({
      rtimeMs: 12,
      scur: 2,
      qcur: 0,
      stot: 60,
      responses: 60,
      samples: 60,
      hrsp5xx: 2,
      weight: 256,
      status: 'UP',
    });
    expect(serverStats(parseShowStat(CSV), 'other')).toEqual([]);
  });
});

describe('intervalLatencyMs', () => {
  /** HAProxy's swrate: S ← S − S/N + v, reported as S / min(count, N). */
  function simulate(samples: number[], start = { sum: 0, count: 0 }) {
    let { sum, count } = start;
    for (const v of samples) {
      sum = sum - sum / RTIME_WINDOW_SAMPLES + v;
      count++;
    }
    return { sum, count, avg: sum / Math.min(count, RTIME_WINDOW_SAMPLES) };
  }

  it('recovers the interval mean from two sliding averages (past the window)', () => {
    const a = simulate(Array<number>(2000).fill(20));
    const b = simulate(Array<number>(50).fill(200), a);
    expect(b.avg).toBeLessThan(40); // rtime itself barely moved
    expect(
      intervalLatencyMs({ rtimeMs: a.avg, count: a.count }, { rtimeMs: b.avg, count: b.count }, 50),
    ).toBeCloseTo(200, 5);
  });

  it('recovers it inside the first window too, and reports rtime with too few responses', () => {
    const a = simulate(Array<number>(100).fill(20));
    const b = simulate(Array<number>(30).fill(80), a);
    expect(
      intervalLatencyMs({ rtimeMs: a.avg, count: 100 }, { rtimeMs: b.avg, count: 130 }, 30),
    ).toBeCloseTo(80, 0);
    expect(intervalLatencyMs({ rtimeMs: 20, count: 100 }, { rtimeMs: 21, count: 103 }, 3)).toBe(21);
  });
});

describe('observations', () => {
  const prev = serverStats(parseShowStat(CSV), 'be');
  it('turns counter deltas into events spread over the interval, 5xx share as status 503', () => {
    const cur = prev.map((s) =>
      s.server === 's1'
        ? { ...s, responses: s.responses + 20, samples: s.samples + 20, hrsp5xx: s.hrsp5xx + 10 }
        : s,
    );
    const ev = observations(prev, cur, {
      pool: 'web',
      nowMs: 2000,
      prevMs: 1000,
      maxEventsPerServer: 4,
    });
    expect(ev).toHaveLength(4); // s2 answered nothing: no events
    expect(ev.map((e) => e.ts)).toEqual([1250, 1500, 1750, 2000]);
    expect(ev.map((e) => e.status)).toEqual([503, 503, 200, 200]);
    expect(ev[0]).toMatchObject({ pool: 'web', backend: 's1', inflight: 2 });
  });

  it('skips a server whose counters went backwards (HAProxy restarted)', () => {
    const cur = prev.map((s) => ({ ...s, responses: 1, hrsp5xx: 0 }));
    expect(
      observations(prev, cur, { pool: 'web', nowMs: 2, prevMs: 1, maxEventsPerServer: 4 }),
    ).toEqual([]);
  });
});

describe('weightCommands', () => {
  it('sets haproxyWeight on servers named like the backends, reports the unknown ones', () => {
    const plan = weightCommands(
      {
        entries: [
          { backend: 's1', haproxyWeight: 256 },
          { backend: 's2', haproxyWeight: 3 },
          { backend: 'gone', haproxyWeight: 9 },
        ] as never,
      },
      'be',
      ['s1', 's2', 's3'],
    );
    expect(plan.commands.map((c) => c.command)).toEqual([
      'set server be/s1 weight 256',
      'set server be/s2 weight 3',
    ]);
    expect(plan.unknown).toEqual(['gone']);
  });

  it('knows a stale document', () => {
    expect(isStale({ generatedAt: 1000, ttlMs: 500 }, 1500)).toBe(false);
    expect(isStale({ generatedAt: 1000, ttlMs: 500 }, 1501)).toBe(true);
  });

  it('reads user weights from show servers state', () => {
    const text = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight
3 be 1 s1 127.0.0.1 2 0 256 100
3 be 2 s2 127.0.0.1 2 0 12 100
`;
    expect(Object.fromEntries(parseServersState(text))).toEqual({ s1: 256, s2: 12 });
  });
});
