/** Viewports are bucketed to common breakpoints: an exact window size is a fingerprinting signal. */
const WIDTHS = [0, 320, 360, 375, 390, 414, 768, 1024, 1280, 1366, 1440, 1536, 1920, 2560];

export function bucketWidth(w: number | undefined): number {
  if (!w || !Number.isFinite(w) || w <= 0) return 0;
  let best = 0;
  for (const b of WIDTHS) if (b <= w) best = b;
  return best;
}

export function bucketHeight(h: number | undefined): number {
  if (!h || !Number.isFinite(h) || h <= 0) return 0;
  return Math.min(2000, Math.floor(h / 100) * 100);
}
