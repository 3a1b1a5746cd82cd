import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSettings, names, SPEC } from '../../src/config/settings.js';

describe('loadSettings', () => {
  it('defaults to embedded mode with the contract names', () => {
    const s = loadSettings({});
    expect(s.natsUrl).toBeUndefined();
    expect(s.redisUrl).toBeUndefined();
    expect(s.port).toBe(8080);
    expect(s.decayHalfLivesSec).toEqual([60, 600, 3600]);
    const n = names(s);
    expect(n.telemetryWildcard).toBe('prescient.telemetry.>');
    expect(n.accessSubject('node-1')).toBe('prescient.telemetry.access.node-1');
    expect(n.latencySubject('edge')).toBe('prescient.telemetry.latency.edge');
    expect(n.deadLetterSubject).toBe('prescient.deadletter.telemetry');
    expect(s.streamName).toBe('PRESCIENT_TELEMETRY');
    expect(s.consumerName).toBe('prescient-engine');
    expect(n.kvBucket).toBe('prescient-policy');
  });

  it('reads the environment', () => {
    const s = loadSettings({
      NATS_URL: 'nats://a:4222,nats://b:4222',
      REDIS_URL: 'redis://r:6379',
      PORT: '9000',
      PRESCIENT_DECAY_HALF_LIVES_SEC: '30, 300',
    });
    expect(s).toMatchObject({
      natsUrl: 'nats://a:4222,nats://b:4222',
      redisUrl: 'redis://r:6379',
      port: 9000,
      decayHalfLivesSec: [30, 300],
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['NATS_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['PRESCIENT_MAX_TRACKED_KEYS', '-1'],
    ['PRESCIENT_DECAY_HALF_LIVES_SEC', '1,2,3,4,5'],
    ['PRESCIENT_STREAM', 'has space'],
  ])('refuses %s=%s with PRESCIENT_E_CONFIG naming the variable', (env, value) => {
    let err: unknown;
    try {
      loadSettings({ [env]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'PRESCIENT_E_CONFIG', details: { env } });
    expect((err as Error).message).toContain(env);
  });

  it('reads retrain schedules: a cron pattern (5 or 6 fields), or empty / off for none', () => {
    expect(loadSettings({}).retrainCronEviction).toBe('*/15 * * * *');
    expect(loadSettings({ PRESCIENT_RETRAIN_CRON_EVICTION: '*/5 * * * * *' })).toMatchObject({
      retrainCronEviction: '*/5 * * * * *',
    });
    expect(loadSettings({ PRESCIENT_RETRAIN_CRON_EVICTION: '' }).retrainCronEviction).toBe('');
    expect(loadSettings({ PRESCIENT_RETRAIN_CRON_EVICTION: 'off' }).retrainCronEviction).toBe('');
    expect(() => loadSettings({ PRESCIENT_RETRAIN_CRON_EVICTION: 'every minute' })).toThrow(
      expect.objectContaining({
        code: 'PRESCIENT_E_CONFIG',
        details: expect.objectContaining({ env: 'PRESCIENT_RETRAIN_CRON_EVICTION' }),
      }),
    );
  });

  it('refuses an ack wait that a checkpoint could outlast', () => {
    expect(() =>
      loadSettings({
        PRESCIENT_CONSUMER_ACK_WAIT_SEC: '10',
        PRESCIENT_SNAPSHOT_INTERVAL_MS: '6000',
      }),
    ).toThrow(expect.objectContaining({ code: 'PRESCIENT_E_CONFIG' }));
  });
});

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  it.each(Object.values(SPEC).map((e) => [e.env, e.default] as const))(
    'documents %s with its default',
    (env, def) => {
      // Table cells, whatever padding the formatter gives them.
      const cells = readme
        .split('\n')
        .map((l) => l.split('|').map((c) => c.trim()))
        .find((c) => c[1] === `\`${env}\``);
      expect(cells, `README configuration table lacks ${env}`).toBeDefined();
      expect(cells?.[2]).toBe(def === undefined ? '(unset)' : `\`${def}\``);
    },
  );

  it('gives exactly the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});

describe('docs/protocol.md', () => {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const block = (id: string) => {
    const m = new RegExp(`<!-- schema:${id} -->\\s*\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
    return m?.[1] === undefined ? undefined : (JSON.parse(m[1]) as unknown);
  };
  it('holds the JSON Schemas the engine uses, verbatim', async () => {
    const { AccessEventSchema, LatencyEventSchema } = await import('../../src/telemetry/events.js');
    expect(block('AccessEvent')).toEqual(JSON.parse(JSON.stringify(AccessEventSchema)));
    expect(block('LatencyEvent')).toEqual(JSON.parse(JSON.stringify(LatencyEventSchema)));
  });
  it('lists every rejection code', async () => {
    const { REJECT_CODES } = await import('../../src/telemetry/decode.js');
    for (const code of Object.values(REJECT_CODES)) expect(doc).toContain(`\`${code}\``);
  });
});
