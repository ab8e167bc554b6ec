/**
 * Wire format v1 (tracker → collector), after validation by `validate.ts`.
 * docs/design.md (wire format) describes it; every field here has passed
 * the limits of src/wire/limits.ts. Also the shapes that cross from the
 * collector through the queue to the anonymiser.
 */
export type EventType = 'pageview' | 'click' | 'engagement' | 'custom' | 'impression';

export interface Viewport { w: number; h: number }

export interface ClickData {
  selector: string;
  label?: string;
  /** Fraction of the element's box, 0..1. */
  x: number;
  y: number;
  /** Document coordinates in CSS pixels. */
  page_x: number;
  page_y: number;
  /**
   * Width of the document's layout (documentElement.clientWidth: the window less its scrollbar), CSS pixels. The
   * worker measures page_x from the document's centre line with it (shop content sits in a centred container), then
   * drops it; without it the viewport width stands in.
   */
  doc_w?: number;
  /**
   * The position as fractions of the block's box: the product tile the click is in (data-track-item, named by the
   * event's `item`), else the nearest element labelled with data-track (named by `label`).
   */
  block_x?: number;
  block_y?: number;
  /** Frustration, judged in the browser: the third of three clicks within 1 s within 30 px of one another (once per burst). */
  rage?: boolean;
  /** Frustration: a click on something that is not a control, after which the page did not react for a second. */
  dead?: boolean;
}

export interface EngagementData {
  visible_ms: number;
  /** Maximum scroll depth reached, percent 0..100. */
  scroll_depth: number;
  /**
   * Frustration, judged in the browser: the page view is being left by going back (to an earlier page of the same
   * site) within 5 s of visible time. Only on the page view's last engagement event; absent otherwise.
   */
  quick_back?: boolean;
}

export type CustomPropValue = string | number | boolean;

export interface CustomData {
  name: string;
  props?: Record<string, CustomPropValue>;
}

/** A product tile (an element marked data-track-item): what an impression is of, and what a click landed in. */
export interface ItemData {
  id: string;
  list?: string;
  /** 1-based position among the items of its list (document order), or the page's data-track-pos. */
  pos?: number;
}

/** Layout experiments the page view takes part in: experiment name → arm. */
export type Variants = Record<string, string>;

export interface WireEvent {
  type: EventType;
  id: string;
  pageview_id: string;
  ts?: number;
  url: string;
  referrer?: string;
  viewport?: Viewport;
  click?: ClickData;
  engagement?: EngagementData;
  custom?: CustomData;
  /** Impressions (required) and clicks inside an item (optional). */
  item?: ItemData;
  /** Any event: the arms the shop assigned for this page view. */
  variants?: Variants;
}

export interface WireBatch {
  site: string;
  events: WireEvent[];
}

/**
 * What the collector captured about one request. It exists in plaintext only
 * in the collector's memory and, after unsealing, in the worker's memory.
 */
export interface RequestContext {
  site: string;
  /** Client address as the collector saw it (socket or trusted proxy hop). */
  ip: string;
  userAgent: string;
  /** Server receive time, ms since epoch: the event time and the salt day. */
  receivedAt: number;
}

/** One sealed request: its context and its validated events. */
export interface CollectedRequest {
  ctx: RequestContext;
  events: WireEvent[];
}
