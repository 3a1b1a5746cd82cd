import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from '../src/log.js';

function capture(secrets?: string[]) {
  const lines: string[] = [];
  const log = createLogger('trace', 'test', {
    destination: { write: (l: string) => void lines.push(l) },
    ...(secrets ? { secrets } : {}),
  });
  return { log, text: () => lines.join('') };
}

describe('createLogger', () => {
  it('censors credential fields', () => {
    const { log, text } = capture();
    log.info(
      {
        password: 'pw-1',
        pass: 'pw-2',
        conn: { password: 'pw-3', token: 'tok-1', auth_token: 'tok-2' },
        req: { headers: { authorization: 'Bearer tok-3' } },
        authorization: 'Bearer tok-4',
      },
      'connecting',
    );
    expect(text()).toContain('connecting');
    for (const s of ['pw-1', 'pw-2', 'pw-3', 'tok-1', 'tok-2', 'tok-3', 'tok-4'])
      expect(text()).not.toContain(s);
  });

  it('scrubs the named secrets wherever they appear, JSON-escaped and in base64', () => {
    const { log, text } = capture(['s3cr"et-value', 'abc']);
    log.warn({ err: 'auth failed for s3cr"et-value' }, 'in the message too: s3cr"et-value');
    log.info(`basic ${Buffer.from('s3cr"et-value').toString('base64')}`);
    log.info('abc is too short to scrub');
    expect(text()).not.toContain('s3cr');
    expect(text()).not.toContain(Buffer.from('s3cr"et-value').toString('base64'));
    expect(text()).toContain('[redacted]');
    expect(text()).toContain('abc is too short');
  });
});

describe('redactUrl', () => {
  it('hides user, password and token, even with @ in the password', () => {
    expect(redactUrl('nats://u:p@ss@h:4222,nats://tok@h2:4222,nats://h3:4222')).toBe(
      'nats://[redacted]@h:4222,nats://[redacted]@h2:4222,nats://h3:4222',
    );
    expect(redactUrl('redis://:pw@r:6379/0')).toBe('redis://[redacted]@r:6379/0');
  });
});
