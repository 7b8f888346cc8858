/**
 * Runs async operations one at a time, in call order; a failure does not stop the ones queued after it.
 * `const run = serialQueue(); await run(() => work())`.
 */
export function serialQueue(): <T>(op: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(op: () => Promise<T>): Promise<T> => {
    const next = tail.then(op, op);
    tail = next.catch(() => undefined);
    return next;
  };
}
