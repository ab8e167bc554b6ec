/**
 * Structured JSON logs. Privacy: call sites never pass an IP, a UA, a URL or
 * a secret, and redaction is the safety net for the field names under which
 * such a value could slip in.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'ip', '*.ip', 'ua', '*.ua', 'userAgent', '*.userAgent', 'url', '*.url', 'referrer', '*.referrer',
  'headers', '*.headers', 'req.headers', 'salt', '*.salt', 'privateKey', '*.privateKey', 'token', '*.token',
  'authorization', '*.authorization', 'query', '*.query', 'body', '*.body', 'password', '*.password',
  'secret', '*.secret', 'cookie', '*.cookie', 'remoteAddress', '*.remoteAddress', 'forwarded', '*.forwarded',
  'address', '*.address', 'xff', '*.xff', 'publicKey', '*.publicKey', 'apiKey', '*.apiKey',
  '["user-agent"]', '*["user-agent"]', '["x-forwarded-for"]', '*["x-forwarded-for"]',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
