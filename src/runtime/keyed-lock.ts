/**
 * Runs work for one key at a time, in the order asked, while work for other keys goes on; a
 * failed run does not stop the next. Network creation uses it: the engine does not refuse a
 * second network of the same name, and one process's reconciles create them in parallel.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run(key: string, fn: () => Promise<void>): Promise<void> {
    const next = (this.tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    this.tails.set(key, next);
    try {
      await next;
    } finally {
      if (this.tails.get(key) === next) this.tails.delete(key);
    }
  }
}
