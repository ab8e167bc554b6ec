/**
 * Wire format v1 (tracker → collector), after validation by `wire.ts`.
 * DESIGN §4 is the source of truth; every field here has passed its limits.
 */
export type EventType = 'pageview' | 'click' | 'engagement' | 'custom';

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
}

export interface EngagementData {
  visible_ms: number;
  /** Maximum scroll depth reached, percent 0..100. */
  scroll_depth: number;
}

export type CustomPropValue = string | number | boolean;

export interface CustomData {
  name: string;
  props?: Record<string, CustomPropValue>;
}

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
}

export interface WireBatch {
  site: string;
  events: WireEvent[];
}
