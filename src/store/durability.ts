import type { DataSource } from "typeorm";

/**
 * Durability for what controllers write (ADR 0005). Everything here is either derived again
 * from the runtime on the next reconcile (status, finalizers) or a record of what happened
 * (deployment rows and logs, events); none of it is desired state a user sent. Such commits
 * skip waiting for their WAL flush (`synchronous_commit = off`): a crash of Berth or Postgres
 * loses nothing, a power loss at most the last fraction of a second of these records, and
 * the database stays consistent. On a busy disk this keeps the control loop's many small
 * commits from queueing behind fsyncs that the Docker engine also needs.
 */
export const ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit = off";

/** One statement in its own transaction, committed without waiting for the WAL flush. */
export async function recordQuery<T = any>(ds: DataSource, sql: string, params: unknown[] = []): Promise<T> {
  return await ds.transaction(async (m) => {
    await m.query(ASYNC_COMMIT_SQL);
    return (await m.query(sql, params)) as T;
  });
}
