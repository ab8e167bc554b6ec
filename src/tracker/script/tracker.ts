/**
 * The storefront tracking script, served at /t.js:
 *   <script defer src="https://collector.example/t.js" data-site="shop"></script>
 *
 * Captures page views (first load and SPA navigations), clicks (selector path,
 * label, position, rage and dead clicks), one engagement figure per page view
 * (visible time and maximum scroll depth, and whether the page is being left by
 * going back within 5 s: a quick back), custom events from
 * window.anonAnalytics.track(), and
 * impressions of product tiles and the shop's layout arms (items.ts).
 * Sends nothing under Global Privacy Control, Do Not Track or after
 * anonAnalytics.consent(false). Sends only what may be kept: the page URL
 * without its fragment and with no query parameter but utm_* and those named
 * in data-query (so what a visitor types into a GET search or checkout form
 * never leaves the page), and a referrer as its origin (another site) or its
 * path (this site). Keeps no cookies and no storage except the
 * opt-out flag; its random ids live in memory for one page view only.
 *
 * It runs inside someone else's shop: every entry point is wrapped so that it
 * can never throw into the page, and loading it twice does nothing the second
 * time. Byte budget: 3,750 bytes gzip (src/tracker/bundle.test.ts).
 */
import { CUSTOM_NAME_PATTERN, FORBIDDEN_KEYS, MAX_PROP_NUMBER, MAX_PROP_VALUE, MAX_PROPS, MAX_URL, MAX_VISIBLE_MS, PROP_KEY_PATTERN } from '../../wire/limits.js';
import type { CustomPropValue, WireEvent } from '../../wire/types.js';
import { clickData, CONTROL } from './click.js';
import { browserSaysNo, optedOut, rememberOptOut, trackingAllowed } from './consent.js';
import { itemOf, parseVariants, watchTiles, withVariant } from './items.js';
import { createSender } from './send.js';

export interface AnonAnalytics {
  track(name: string, props?: Record<string, unknown>): void;
  consent(granted: boolean): void;
  /** The arm of a layout experiment the shop put this visitor in, for every later event of the page (data-variant on the script tag does the same). */
  variant(experiment: string, arm: string): void;
  /** Marks a running tracker: a second copy of the script stops when it sees this. */
  readonly v: 1;
}

type Body = Omit<WireEvent, 'type' | 'id' | 'pageview_id' | 'ts' | 'url'>;

/** What the tracker reads of the Navigation API (not in TypeScript's DOM types yet). */
interface Navigation extends EventTarget {
  currentEntry: { index: number } | null;
}
interface NavigateEvent extends Event {
  navigationType: string;
  destination: { index: number };
}


/** 16 random characters of [0-9a-z] (~82 bits): only ever in memory, for one page view. */
function randomId(): string {
  let s = '';
  for (const b of crypto.getRandomValues(new Uint8Array(16))) s += (b % 36).toString(36);
  return s;
}

function safe<A extends unknown[]>(f: (...a: A) => void): (...a: A) => void {
  return (...a) => {
    try {
      f(...a);
    } catch {}
  };
}

function start(w: Window & { anonAnalytics?: AnonAnalytics }): void {
  const script = (document.currentScript || document.querySelector('script[data-site]')) as HTMLScriptElement | null;
  const site = script?.dataset.site;
  if (!script || !site) return;
  const sender = createSender(script.dataset.endpoint || new URL('/collect', script.src).href, site, trackingAllowed);
  // Layout arms (the shop's assignment), repeated on every event; product tiles seen (items.ts).
  let variants = parseVariants(script.dataset.variant);
  const tiles = watchTiles((item) => send('impression', { item }));

  // The current page view. Reset on every navigation; nothing survives the page.
  let pageviewId = '';
  let url = '';
  let visibleMs = 0;
  let visibleSince = 0;
  let scrollDepth = 0;
  let sentMs = -1;
  let sentDepth = -1;
  /** The page view is being left by going back within 5 s of being seen: its last engagement says so (a quick back). */
  let back = false;
  /** Clicks waiting a second to see whether the page reacts (dead clicks); sent at once when the page is left. */
  const held = new Set<(alive?: unknown) => void>();
  /** A label's click and the synthetic click it fires on its control share one event time: one click, counted once. */
  let lastClick = -1;

  const now = () => Date.now();
  // Query parameters the shop wants kept besides utm_* (data-query="sku page"): the rest never leave the page.
  const keep = (script.dataset.query || '').split(/[\s,]+/);
  /** The page as sent: origin and path, the kept query parameters, never the fragment or anything typed into a GET form. */
  const pageUrl = () => {
    const q = new URLSearchParams();
    new URLSearchParams(location.search).forEach((v, k) => (k.startsWith('utm_') || keep.includes(k)) && q.append(k, v));
    const s = '' + q;
    return (location.origin + location.pathname + (s && '?' + s)).slice(0, MAX_URL);
  };
  /** A referrer as sent: the origin of another site, the path of this one; never a query or fragment. */
  const referrerOf = (r: string) => {
    try {
      const u = new URL(r);
      return u.origin === location.origin ? u.pathname : u.origin + '/';
    } catch {
      return '';
    }
  };
  const viewport = () => ({ w: Math.min(innerWidth, 1e5), h: Math.min(innerHeight, 1e5) });
  const visibleNow = () => visibleMs + (visibleSince ? now() - visibleSince : 0);

  const event = (type: WireEvent['type'], body: Body): WireEvent => ({ type, id: randomId(), pageview_id: pageviewId, ts: now(), url, ...body, ...(variants && { variants }) });
  const push = (e: WireEvent) => trackingAllowed() && sender.push(e);

  function send(type: WireEvent['type'], body: Body): void {
    if (pageviewId) push(event(type, body));
  }

  function measureScroll(): void {
    const height = document.documentElement.scrollHeight;
    if (height) scrollDepth = Math.max(scrollDepth, Math.min(100, Math.round(((scrollY + innerHeight) / height) * 100)));
  }

  /** Cumulative for the page view; sent again only when it grew (hidden, shown again, left). */
  function engagement(): void {
    measureScroll();
    const ms = Math.min(Math.round(visibleNow()), MAX_VISIBLE_MS);
    if (ms === sentMs && scrollDepth === sentDepth && !back) return;
    sentMs = ms;
    sentDepth = scrollDepth;
    send('engagement', { engagement: { visible_ms: ms, scroll_depth: scrollDepth, ...(back && { quick_back: true }) } });
    back = false;
  }

  /** A page view for a URL not yet seen as the current one (first load, pushState, popstate). */
  function route(): void {
    const next = pageUrl();
    if (next === url) return;
    engagement();
    const referrer = referrerOf(url || document.referrer);
    url = next;
    pageviewId = randomId();
    visibleMs = scrollDepth = 0;
    visibleSince = document.visibilityState === 'visible' ? now() : 0;
    sentMs = sentDepth = -1;
    send('pageview', { referrer: referrer.slice(0, MAX_URL), viewport: viewport() });
    tiles(true);
  }

  function leave(): void {
    held.forEach((f) => f(true));
    visibleMs = visibleNow();
    visibleSince = 0;
    engagement();
    sender.flush(true);
  }

  const api: AnonAnalytics = {
    v: 1,
    track: safe((name: string, props?: Record<string, unknown>) => {
      if (typeof name !== 'string' || !CUSTOM_NAME_PATTERN.test(name)) return;
      const clean: Record<string, CustomPropValue> = {};
      let n = 0;
      const given = props && typeof props === 'object' ? props : {};
      for (const k of Object.keys(given)) {
        const v = given[k];
        const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Math.abs(v) <= MAX_PROP_NUMBER);
        if (ok && n < MAX_PROPS && PROP_KEY_PATTERN.test(k) && !FORBIDDEN_KEYS.has(k)) {
          clean[k] = typeof v === 'string' ? v.slice(0, MAX_PROP_VALUE) : (v as number | boolean);
          n++;
        }
      }
      send('custom', { custom: { name, props: clean } });
    }),
    variant: safe((experiment: string, arm: string) => (variants = withVariant(variants, experiment, arm))),
    consent: safe((granted: boolean) => {
      const wasAllowed = trackingAllowed();
      rememberOptOut(!granted);
      if (!granted) return sender.clear();
      // Resuming starts a fresh page view for the page the visitor is on.
      if (!wasAllowed && !browserSaysNo() && !optedOut()) {
        pageviewId = url = '';
        route();
      }
    }),
  };
  w.anonAnalytics = api;

  const safeRoute = safe(route);
  for (const m of ['pushState', 'replaceState'] as const) {
    const original = history[m];
    history[m] = function (this: History, ...args: Parameters<History['pushState']>) {
      const r = original.apply(this, args);
      safeRoute();
      return r;
    };
  }
  addEventListener('popstate', safeRoute);
  // Going back: a traversal to an earlier entry of this site's history (the Navigation API tells the page that is left,
  // before pagehide or popstate; a return to another site is not told, and browsers without the API tell nothing).
  const nav = (self as { navigation?: Navigation }).navigation;
  nav?.addEventListener(
    'navigate',
    safe((e: Event) => {
      const { navigationType, destination } = e as NavigateEvent;
      const to = destination.index;
      back = navigationType == 'traverse' && to >= 0 && to < nav.currentEntry!.index && visibleNow() < 5000;
    }),
  );
  addEventListener('scroll', safe(measureScroll), { passive: true });
  addEventListener('pagehide', safe(leave));
  // Restored from the back/forward cache: the visitor sees the page again, a new page view.
  addEventListener(
    'pageshow',
    safe((e: PageTransitionEvent) => {
      if (e.persisted) {
        url = '';
        route();
      }
    }),
  );
  document.addEventListener(
    'visibilitychange',
    safe(() => {
      if (document.visibilityState === 'hidden') leave();
      else {
        visibleSince ||= now();
        tiles();
      }
    }),
  );
  document.addEventListener(
    'click',
    safe((e: MouseEvent) => {
      if (lastClick == (lastClick = e.timeStamp)) return;
      const click = clickData(e);
      if (!click || !pageviewId) return;
      const item = itemOf(e.target);
      const ev = event('click', { click, viewport: viewport(), ...(item && { item }) });
      if ((e.target as Element).closest(CONTROL)) return push(ev);
      // Not a control: a dead click unless the DOM (an element, an attribute, a text) or the focus changes within a
      // second (a change sends it at once; an SPA navigation changes the DOM, leaving the page sends it as it is).
      const focus = document.activeElement;
      // `alive`: the observer's records, or true when the page is left.
      const done = (alive?: unknown) => {
        if (!held.delete(done)) return;
        watch.disconnect();
        if (!alive && document.activeElement == focus) click.dead = true;
        push(ev);
      };
      const watch = new MutationObserver(done);
      watch.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
      held.add(done);
      setTimeout(done, 1000);
    }),
    true,
  );
  route();
}

try {
  const w = window as Window & { anonAnalytics?: AnonAnalytics };
  if (!w.anonAnalytics?.v) start(w);
} catch {}
