/** Debian's Chromium driven by playwright-core: never a downloaded browser. */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `userAgent`: the browser's own User-Agent, for every request (sendBeacon during a navigation included, which a
 * context's userAgent option does not reach): headless Chromium's own says "HeadlessChrome", a bot to the worker.
 */
export function launchChromium(opts: { userAgent?: string } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(opts.userAgent ? [`--user-agent=${opts.userAgent}`] : []),
    ],
  });
}
