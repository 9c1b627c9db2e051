import type { DataSource, EntityManager, QueryRunner } from "typeorm";

/** Anything that runs SQL: the DataSource, a transaction's manager, or a query runner. */
export type Sql = Pick<DataSource | EntityManager | QueryRunner, "query">;

/** Rows of an UPDATE/DELETE … RETURNING (pg answers [rows, count] for those). */
export function returned<T>(res: unknown): T[] {
  const r = res as unknown[];
  return (Array.isArray(r[0]) ? r[0] : r) as T[];
}

/** The affected row count of an UPDATE/DELETE without RETURNING. */
export function affected(res: unknown): number {
  return Array.isArray(res) ? Number(res[1] ?? 0) : 0;
}

/** ISO-8601 to the second, as Kubernetes prints times. */
export function iso(d: Date | string): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Rolls back after a failure without hiding it. When the connection itself broke, TypeORM has
 * already marked the runner released, and ROLLBACK would throw QueryRunnerAlreadyReleasedError
 * in place of the socket error the caller must see (to answer 503, not 500).
 */
export async function rollbackQuietly(qr: QueryRunner): Promise<void> {
  if (!qr.isTransactionActive || qr.isReleased) return;
  await qr.rollbackTransaction().catch(() => undefined);
}
