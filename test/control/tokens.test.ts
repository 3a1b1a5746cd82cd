import { describe, expect, it } from 'vitest';
import {
  allows,
  generateToken,
  hashToken,
  parseTokenFile,
  parseTokenList,
  TokenSet,
} from '../../src/control/tokens.js';
import { WriteLimiter } from '../../src/api/auth.js';

describe('tokens', () => {
  const token = generateToken();
  const list = `ops:operator:${hashToken(token)}, reader:viewer:${hashToken('r')}`;

  it('parses name:role:sha256 lists and verifies tokens by hash', () => {
    const set = new TokenSet(parseTokenList(list));
    expect(set.verify(token)).toEqual({ name: 'ops', role: 'operator' });
    expect(set.verify('r')).toEqual({ name: 'reader', role: 'viewer' });
    expect(set.verify(`${token}x`)).toBeUndefined();
    expect(set.verify('')).toBeUndefined();
  });

  it('generates distinct 256-bit tokens', () => {
    expect(generateToken()).not.toBe(token);
    expect(token).toMatch(/^psk_[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['a plain token instead of its hash', `ops:admin:${token}`],
    ['an unknown role', `ops:root:${hashToken('x')}`],
    ['a bad name', `o ps:admin:${hashToken('x')}`],
    ['a missing part', 'ops:admin'],
  ])('refuses %s without echoing it', (_what, text) => {
    expect(() => parseTokenList(text)).toThrow(
      expect.objectContaining({ code: 'PRESCIENT_E_CONFIG' }),
    );
    try {
      parseTokenList(text);
    } catch (err) {
      expect((err as Error).message).not.toContain(token);
    }
  });

  it('reads a tokens file and refuses duplicate names', () => {
    const records = parseTokenFile(
      JSON.stringify([{ name: 'a', role: 'admin', sha256: hashToken('t') }]),
      'file',
    );
    expect(records).toEqual([
      expect.objectContaining({ name: 'a', role: 'admin', source: 'file' }),
    ]);
    expect(() => new TokenSet([...records, ...records])).toThrow(/twice/);
    expect(() => parseTokenFile('{', 'file')).toThrow(
      expect.objectContaining({ code: 'PRESCIENT_E_CONFIG' }),
    );
  });

  it('orders roles: viewer < operator < admin; telemetry apart', () => {
    expect(allows('admin', 'operator')).toBe(true);
    expect(allows('operator', 'viewer')).toBe(true);
    expect(allows('operator', 'admin')).toBe(false);
    expect(allows('viewer', 'operator')).toBe(false);
    expect(allows('telemetry', 'viewer')).toBe(false);
    expect(allows('operator', 'telemetry')).toBe(true);
    expect(allows('viewer', 'telemetry')).toBe(false);
  });
});

describe('WriteLimiter', () => {
  it('allows a burst of perMin writes, then one per 60/perMin seconds', () => {
    let now = 0;
    const limiter = new WriteLimiter(3, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(20);
    expect(limiter.take('b')).toBe(0);
    now = 20_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });
});
