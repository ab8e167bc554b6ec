/** Builders for wire-format test data, instead of copy-pasted JSON. */
import { randomBytes } from 'node:crypto';
import type { WireEvent } from '../../src/wire/types.js';

/** A real browser's User-Agent: Node's or curl's own would be recognised as a bot and dropped. */
export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const randomId = (n = 16): string => randomBytes(n).toString('base64url').slice(0, n);

export class EventBuilder {
  private e: WireEvent;
  constructor(type: WireEvent['type'] = 'pageview', url = 'http://localhost/products/usb-c-65w?utm_source=mail&email=a@b.c#top') {
    this.e = { type, id: randomId(), pageview_id: randomId(), ts: 1764000000000, url };
    if (type === 'pageview') this.e.viewport = { w: 1440, h: 900 };
    if (type === 'click') this.e.click = { selector: 'main>section.buy>button.add', label: 'add-to-cart', x: 0.42, y: 0.61, page_x: 812, page_y: 1204 };
    if (type === 'engagement') this.e.engagement = { visible_ms: 27000, scroll_depth: 80 };
    if (type === 'custom') this.e.custom = { name: 'checkout_start', props: { items: 2 } };
    if (type === 'impression') this.e.item = { id: 'usb-c-65w', list: 'home-grid', pos: 1 };
  }
  static pageview(url?: string) { return new EventBuilder('pageview', url); }
  static click(url?: string) { return new EventBuilder('click', url); }
  static engagement(url?: string) { return new EventBuilder('engagement', url); }
  static custom(url?: string) { return new EventBuilder('custom', url); }
  static impression(url?: string) { return new EventBuilder('impression', url); }
  with(patch: Partial<WireEvent> & Record<string, unknown>): this {
    this.e = { ...this.e, ...patch } as WireEvent;
    return this;
  }
  pageviewId(id: string): this {
    this.e.pageview_id = id;
    return this;
  }
  referrer(r: string): this {
    this.e.referrer = r;
    return this;
  }
  build(): WireEvent {
    return structuredClone(this.e);
  }
}

export function batch(events: (EventBuilder | WireEvent)[], site = 'demo'): { site: string; events: WireEvent[] } {
  return { site, events: events.map((e) => (e instanceof EventBuilder ? e.build() : e)) };
}

/** A realistic mixed batch of n events over one page view. */
export function mixedBatch(n: number, site = 'demo', host = 'localhost'): { site: string; events: WireEvent[] } {
  const pv = randomId();
  const kinds: WireEvent['type'][] = ['pageview', 'click', 'click', 'engagement', 'custom'];
  const events: WireEvent[] = [];
  for (let i = 0; i < n; i++) events.push(new EventBuilder(kinds[i % kinds.length], `http://${host}/products/p${i % 7}`).pageviewId(pv).build());
  return { site, events };
}
