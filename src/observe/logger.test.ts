import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger('trace', 'test', sink), text: () => lines.join('') };
}

describe('createLogger redaction', () => {
  it('censors addresses, user agents, URLs and secrets under the names they could slip in by', () => {
    const { log, text } = capture();
    const canaries = {
      ip: '198.51.100.23',
      ua: 'CanaryAgent/1.2.3',
      url: 'https://shop.example/account/jane.doe@example.com',
      secret: 'canary-secret-0123456789',
      token: 'canary-token-0123456789',
      xff: '192.0.2.99',
    };
    log.info({ ip: canaries.ip, ua: canaries.ua, url: canaries.url }, 'top level');
    log.warn({ req: { ip: canaries.ip, userAgent: canaries.ua, referrer: canaries.url, remoteAddress: canaries.ip } }, 'nested');
    log.error({ req: { headers: { 'user-agent': canaries.ua, 'x-forwarded-for': canaries.xff, authorization: `Bearer ${canaries.token}` } } }, 'headers');
    log.info({ config: { secret: canaries.secret, password: canaries.secret, privateKey: canaries.secret, token: canaries.token } }, 'secrets');
    log.info({ 'user-agent': canaries.ua, 'x-forwarded-for': canaries.xff, forwarded: canaries.xff, address: canaries.ip }, 'raw header names');
    log.error({ err: { message: 'x', body: `{"url":"${canaries.url}"}`, query: 'email=jane.doe@example.com' } }, 'parser error');
    const out = text();
    expect(out.split('\n').filter(Boolean)).toHaveLength(6);
    expect(out).toContain('[redacted]');
    for (const c of [...Object.values(canaries), 'jane.doe']) expect(out, c).not.toContain(c);
    // Redaction does not eat the rest of the record.
    expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ msg: 'top level', name: 'test', level: 30 });
  });
});
