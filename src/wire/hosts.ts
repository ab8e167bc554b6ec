/**
 * The page-host rule, in one place: a URL belongs to a site when its host
 * name, or its host with port (a site may be configured as `shop.example:8443`),
 * is one of the site's configured hosts. The collector applies it to page URLs
 * (403 or a rejected event), the anonymiser applies it again to what it opens
 * and uses it to tell internal referrers from external ones.
 */

/** Whether a parsed URL's host is one of `hosts`. */
export function hostIsSites(u: { hostname: string; host: string }, hosts: readonly string[]): boolean {
  return hosts.includes(u.hostname) || (u.host !== u.hostname && hosts.includes(u.host));
}

/** Whether a page URL's host is one of the site's hosts; undefined when it is not a URL at all. */
export function pageHostAllowed(url: string, hosts: readonly string[]): boolean | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  return hostIsSites(u, hosts);
}
