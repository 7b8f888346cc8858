/**
 * Runs async operations one at a time, in call order; a failure does not stop the ones queued after it.
 * `const run = serialQueue(); await run(() => work())`. The queue keeps no result: its tail settles with nothing
 * (it held the last result until the next call — the link driver's last dump of every link, parsed).
 */
export function serialQueue(): <T>(op: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(op: () => Promise<T>): Promise<T> => {
    const next = tail.then(op, op);
    tail = next.then(() => undefined, () => undefined);
    return next;
  };
}
