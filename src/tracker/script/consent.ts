/**
 * Consent (docs/design.md §3.7). The browser's own signals (Global Privacy
 * Control, Do Not Track) always win: a page calling consent(true) cannot
 * override them, and the collector would drop such requests anyway. The only
 * thing the tracker ever stores is the visitor's opt-out flag, so that it is
 * remembered on the next page; storage may be unavailable (sandboxed frames,
 * strict privacy modes), which must never break the page.
 */
const OPT_OUT_KEY = 'anonAnalytics.optOut';

export function browserSaysNo(): boolean {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  return n.globalPrivacyControl === true || n.doNotTrack === '1';
}

export function optedOut(): boolean {
  try {
    return localStorage.getItem(OPT_OUT_KEY) === '1';
  } catch {
    return false;
  }
}

export function rememberOptOut(out: boolean): void {
  try {
    if (out) localStorage.setItem(OPT_OUT_KEY, '1');
    else localStorage.removeItem(OPT_OUT_KEY);
  } catch {}
}

/** Read on every event and every send, so an opt-out in another tab also counts at once. */
export const trackingAllowed = (): boolean => !browserSaysNo() && !optedOut();
