-- Quick backs judged in the browser (issue 14). The tracker sets
-- `engagement.quick_back` (wire format v1, docs/design.md §4.2) on the last
-- engagement event of a page view that is left by going back to an earlier page
-- of the same site within 5 s of visible time (the Navigation API's `navigate`
-- event, which the page being left receives before pagehide or popstate). The
-- worker stores it here: 1 on such an engagement event, 0 on every other row.
--
-- No aggregate reads it yet: v_quick_backs still derives quick backs from the
-- visitor's page views (src/store/rollup.ts). The change that counts this column
-- per page is written out in docs/pending-aggregate-changes.md.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS quick_back UInt8;
