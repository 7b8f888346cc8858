// Tells a supervisor how the daemon is doing, with the sd_notify protocol (systemd's Type=notify): READY=1 once the
// first apply has settled and the API serves, STOPPING=1 when it stops, STATUS=… lines. Sent through the
// `systemd-notify` binary (part of systemd; the unit sets NotifyAccess=all because the sender is a child process,
// and systemd-notify waits until the manager has processed the message). Nothing happens without $NOTIFY_SOCKET.
import { execFile } from 'node:child_process';
import type { EdgenetLogger } from '../util/logger.ts';

export interface Notifier {
  ready(status?: string): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
}

export interface SystemdNotifierOptions {
  logger?: EdgenetLogger;
  /** default process.env (NOTIFY_SOCKET comes from there) */
  env?: NodeJS.ProcessEnv;
  /** default `systemd-notify` on the PATH */
  binary?: string;
}

export function createSystemdNotifier(opts: SystemdNotifierOptions = {}): Notifier {
  const env = opts.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const binary = opts.binary ?? 'systemd-notify';
  let chain: Promise<void> = Promise.resolve();
  let warned = false;
  const send = (args: string[]): Promise<void> => {
    if (!socket) return Promise.resolve();
    // in order: READY must never overtake an earlier STATUS, nor STOPPING a READY
    chain = chain.then(
      () =>
        new Promise<void>((resolve) => {
          execFile(binary, [`--pid=${process.pid}`, ...args], { env: { ...env, NOTIFY_SOCKET: socket }, timeout: 10_000 }, (err, _stdout, stderr) => {
            if (err && !warned) {
              warned = true;
              opts.logger?.warn({ err, stderr: String(stderr).trim() }, `telling the supervisor (${args.join(' ')}) failed: ${err.message}`);
            }
            resolve();
          });
        }),
    );
    return chain;
  };
  return {
    ready: (status) => send(['--ready', ...(status ? [`--status=${status}`] : [])]),
    stopping: (status) => send(['STOPPING=1', ...(status ? [`--status=${status}`] : [])]),
    status: (text) => send([`--status=${text}`]),
  };
}
