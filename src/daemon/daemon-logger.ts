// The daemon's own log: pino JSON lines on stdout whose keys are unique (see uniqueKeyLogger). pino's `name` is
// not set (every line is edgenet's; `component`/`driver` say which part wrote it), so an actor's `name` field is
// the only `name` of its line.
import { pino, type DestinationStream } from 'pino';
import { uniqueKeyLogger, type EdgenetLogger } from '../util/logger.ts';

/** `level`: pino's (fatal … trace, silent); `destination`: default stdout. */
export function createDaemonLogger(level: string, destination?: DestinationStream): EdgenetLogger {
  return uniqueKeyLogger(destination ? pino({ level }, destination) : pino({ level }));
}
