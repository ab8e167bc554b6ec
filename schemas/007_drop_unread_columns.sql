-- Every stored column has a reader and a reason (issue 12). These columns of
-- `events` were read by no view, rollup, report or documented analyst
-- question, and each one narrowed a visitor down (grouping on network,
-- browser version, OS version, language and viewport linked one visitor's
-- daily ids across days and sites):
--   browser_major, os_major   browser and OS major versions (the family stays in browser/os)
--   device_vendor             the device maker (the device type stays)
--   language                  the primary language of Accept-Language
--   referrer_path             the previous page on this site (transitions come from the visitor's page views)
--   host                      which of the site's hosts (every host of a site is one shop)
-- Dropped, not emptied: old rows lose them too. (A new store creates them in
-- 001 and loses them here; migrations are history.)
ALTER TABLE events
    DROP COLUMN IF EXISTS browser_major,
    DROP COLUMN IF EXISTS os_major,
    DROP COLUMN IF EXISTS device_vendor,
    DROP COLUMN IF EXISTS language,
    DROP COLUMN IF EXISTS referrer_path,
    DROP COLUMN IF EXISTS host;
