/**
 * Databases whose container a restore owns for the moment (redis is restored with the server
 * stopped): the Database reconciler leaves them alone until the restore is done. In-process,
 * because both run only in the controller leader.
 */
export class DatabaseMaintenance {
  private readonly busy = new Set<string>();

  isBusy(uid: string): boolean {
    return this.busy.has(uid);
  }

  async during<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    this.busy.add(uid);
    try {
      return await fn();
    } finally {
      this.busy.delete(uid);
    }
  }
}
