/** The Redis side of the daily salts (see src/anonymise/salts.ts for why). */
import type { SaltBackend } from '../anonymise/salts.js';
import type { Redis } from './redis.js';

export class RedisSaltStore implements SaltBackend {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async getOrCreate(day: string, value: Buffer, expireAtMs: number): Promise<Buffer> {
    const key = `${this.prefix}:salt:${day}`;
    // NX: the first worker wins; PXAT: gone at the end of the following day, whoever created it.
    await this.redis.set(key, value, 'PXAT', expireAtMs, 'NX');
    const stored = await this.redis.getBuffer(key);
    if (!stored || stored.length !== 32) throw new Error(`salt for ${day} missing or malformed in Redis`);
    return stored;
  }
}

/**
 * The stored salt of a day, or null when there is none (never created, or expired): read only, for
 * `npm run erase`, which must not create a salt for a day that has none.
 */
export async function readSalt(redis: Redis, prefix: string, day: string): Promise<Buffer | null> {
  const stored = await redis.getBuffer(`${prefix}:salt:${day}`);
  return stored && stored.length === 32 ? stored : null;
}
