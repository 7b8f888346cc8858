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

/** Keys pino writes on every line itself: a field of the same name would make a second key in the JSON line. */
export const RESERVED_LOG_KEYS: readonly string[] = ['level', 'time', 'pid', 'hostname', 'msg'];

/** The part of a pino logger the unique-key wrapper forwards to (and what fastify needs of a logger). */
interface LineWriter {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  fatal?: LogFn;
  trace?: LogFn;
  isLevelEnabled?(level: string): boolean;
  level?: string;
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A field named like a key pino writes itself (`pid`) is kept as `field_pid`, never as a second `pid`. */
function fieldsOf(bindings: Record<string, unknown>, obj: object | undefined): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...bindings, ...(obj as Record<string, unknown> | undefined) };
  for (const key of RESERVED_LOG_KEYS) {
    if (key in merged) {
      merged[`field_${key}`] = merged[key];
      delete merged[key];
    }
  }
  return merged;
}

/**
 * A logger whose lines are JSON objects with unique keys. pino writes a child's bindings and each line's own fields
 * one after the other, so `child({ ni })` then `info({ ni })` would give two `ni` keys (and a field `pid` a second
 * `pid` after pino's own): here a child keeps its bindings and merges them with each line's fields (the line's own
 * value wins), and a field named like one of pino's own keys is renamed `field_<key>`. Lines below the level are
 * dropped before anything is merged.
 */
export function uniqueKeyLogger(base: LineWriter, bindings: Record<string, unknown> = {}): EdgenetLogger & { fatal: LogFn; trace: LogFn; silent: LogFn; level: string } {
  const write = (level: Level): LogFn =>
    ((objOrMsg: object | string, msg?: string): void => {
      const fn = (level === 'fatal' ? base.fatal : level === 'trace' ? base.trace : base[level]) ?? base.error;
      if (base.isLevelEnabled?.(level) === false) return;
      const fields = fieldsOf(bindings, typeof objOrMsg === 'string' ? undefined : objOrMsg);
      const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
      (fn as (obj: object, msg?: string) => void).call(base, fields, ...(text === undefined ? [] : [text]));
    }) as LogFn;
  return {
    fatal: write('fatal'),
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    trace: write('trace'),
    silent: nothing as LogFn,
    get level(): string {
      return base.level ?? 'info';
    },
    set level(value: string) {
      base.level = value;
    },
    child: (more) => uniqueKeyLogger(base, { ...bindings, ...more }),
    isLevelEnabled: (level) => base.isLevelEnabled?.(level) ?? true,
  };
}
