// The logger edgenet writes to: the part of pino's interface it uses, so a pino logger (or a child of one,
// fastify's, or any object with these methods) can be passed in. Messages are structured: an object, then text.

export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface EdgenetLogger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  /** a logger that adds `bindings` to every line */
  child(bindings: Record<string, unknown>): EdgenetLogger;
  /** pino's: lets costly debug lines be skipped; treated as enabled when absent */
  isLevelEnabled?(level: string): boolean;
}

const nothing = (): void => undefined;

/** Drops every line (the default when no logger is given). */
export const silentLogger: EdgenetLogger = {
  error: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};
