/**
 * The audit trail of POST /query: one row per query in `query_audit`
 * (schemas/005_analyst_boundary.sql: who, role, when, SQL text, status, rows,
 * duration; TTL 400 days). Readable by admins only: the analyst guard admits
 * the `v_*` views alone, and in server mode the analyst user has no grant on
 * it. docs/operations.md says how to review it.
 */
import type { ClickHouseClient } from '@clickhouse/client';

/** How long audit rows are kept (schemas/006_query_audit.sql creates the table with it; applyRetention keeps it so). */
export const AUDIT_RETENTION_DAYS = 400;

export type AuditStatus = 'ok' | 'refused' | 'failed' | 'timeout' | 'too_large' | 'cancelled' | 'busy';

export interface AuditRow {
  /** ISO time the query was received. */
  at: string;
  query_id: string;
  /** The credential's name (`npm run tokens -- list`), or bootstrap:analyst / bootstrap:admin. */
  who: string;
  role: string;
  sql: string;
  format: string;
  status: AuditStatus;
  /** Why it was refused or failed (the guard's rule or the ClickHouse error name); '' when ok. */
  reason: string;
  rows: number;
  bytes: number;
  duration_ms: number;
}

export async function insertAuditRows(client: ClickHouseClient, rows: AuditRow[]): Promise<void> {
  await client.insert({
    table: 'query_audit',
    values: rows.map((r) => ({ ...r, at: r.at.replace('T', ' ').replace('Z', '') })),
    format: 'JSONEachRow',
  });
}
