/**
 * Writes the audit rows of POST /query to ClickHouse (src/store/audit.ts),
 * gathered for up to a second so a dashboard's burst of queries is one
 * insert, not ten parts. A row that cannot be written is logged (with its
 * query id, never its SQL or results) and the answer is not affected.
 */
import { GroupCommit } from '../lib/group-commit.js';
import type { Logger } from '../observe/logger.js';
import type { ClickHouseClient } from '../store/client.js';
import { insertAuditRows, type AuditRow } from '../store/audit.js';

export type { AuditRow };

export class AuditLog {
  private readonly batch: GroupCommit<AuditRow>;

  constructor(client: ClickHouseClient, private readonly log: Logger) {
    this.batch = new GroupCommit<AuditRow>({ commit: (rows) => insertAuditRows(client, rows), maxSize: 500, maxDelayMs: 1000 });
  }

  record(row: AuditRow): void {
    this.batch.add(row).catch((err: Error) => this.log.error({ queryId: row.query_id, err: { message: err.message.slice(0, 300) } }, 'audit row not written'));
  }

  /** Writes what is waiting (at shutdown). */
  async close(): Promise<void> {
    await this.batch.drain();
  }
}
