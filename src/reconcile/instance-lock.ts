// One edgenet instance per network namespace. The lock is an abstract unix socket named after the namespace's inode:
// abstract names live in the network namespace itself (another namespace never sees them), need no file (so the lock
// does not depend on --state-dir) and vanish with the process that holds them (a SIGKILLed daemon leaves no stale
// lock). The holder answers every connection with who it is, so a refusal names its pid and state dir.
// The instance id (persistent, in the state dir) goes into the ownership marks of the links an instance creates.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { netnsInode } from './netns-record.ts';

/** The persistent file holding an instance's id (8 hex digits). */
export const INSTANCE_ID_FILE = 'instance-id';
const INSTANCE_ID_RE = /^[0-9a-f]{8}$/;

export interface InstanceHolder {
  pid: number;
  stateDir: string;
  runtimeDir: string;
  instanceId: string;
}

/** Another instance holds this namespace: it names the holder. */
export class InstanceLockError extends Error {
  constructor(
    readonly inode: number,
    readonly holder: InstanceHolder | undefined,
  ) {
    super(
      holder
        ? `another edgenet instance runs in this network namespace (inode ${inode}): pid ${holder.pid}, state dir ${holder.stateDir}, runtime dir ${holder.runtimeDir}; refusing to start (one instance per namespace: stop it, or run this one in another namespace)`
        : `another edgenet instance runs in this network namespace (inode ${inode}) and did not say who it is; refusing to start`,
    );
    this.name = 'InstanceLockError';
  }
}

export interface InstanceLock {
  readonly instanceId: string;
  readonly inode: number;
  release(): Promise<void>;
}

/** The abstract socket name of a namespace's lock (a leading NUL: Linux's abstract namespace). */
export function lockName(inode: number): string {
  return `\0edgenet/netns/${inode}`;
}

/** The state dir's instance id; created (random) when it has none yet or the file is not one. */
export async function instanceIdOf(stateDir: string, opts: { create?: boolean } = {}): Promise<string | undefined> {
  const path = join(stateDir, INSTANCE_ID_FILE);
  const text = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (INSTANCE_ID_RE.test(text)) return text;
  if (opts.create === false) return undefined;
  const id = randomBytes(4).toString('hex');
  await writeFileAtomic(path, `${id}\n`, 0o600);
  return id;
}

function listen(server: Server, name: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') resolve(false);
      else reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(name);
  });
}

/** Asks the holder who it is; undefined when nobody answers (it has just gone) or the answer is not one. */
export function askHolder(name: string, timeoutMs = 2000): Promise<InstanceHolder | undefined | 'gone'> {
  return new Promise((resolve) => {
    const s = connect(name);
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('end', () => {
      clearTimeout(timer);
      try {
        const v = JSON.parse(text) as Partial<InstanceHolder>;
        resolve(typeof v.pid === 'number' && typeof v.stateDir === 'string' ? (v as InstanceHolder) : undefined);
      } catch {
        resolve(undefined);
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : undefined);
    });
  });
}

export interface AcquireOptions {
  stateDir: string;
  runtimeDir: string;
  /** while an instance of the same runtime dir holds the lock (stopping after a teardown), retry for this long */
  waitForSameMs?: number;
  /** false: read the state dir's instance id but never create one (an offline `down` leaves no new file behind) */
  createInstanceId?: boolean;
}

/**
 * Takes this network namespace's lock, or throws an InstanceLockError naming the holder. The instance id is read
 * from (or created in) the state dir once the lock is held.
 */
export async function acquireInstanceLock(opts: AcquireOptions): Promise<InstanceLock> {
  const inode = netnsInode();
  const name = lockName(inode);
  const deadline = Date.now() + (opts.waitForSameMs ?? 0);
  let holder: InstanceHolder | undefined;
  const info = { pid: process.pid, stateDir: opts.stateDir, runtimeDir: opts.runtimeDir, instanceId: '' };
  let server: Server;
  for (;;) {
    server = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end(JSON.stringify(info));
    });
    // the lock must never keep a process alive on its own (an embedding agent decides when it ends)
    server.unref();
    if (await listen(server, name)) break;
    const answer = await askHolder(name);
    if (answer === 'gone') continue; // it ended between our listen and our question: try again
    holder = answer;
    if (holder?.runtimeDir === opts.runtimeDir && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    throw new InstanceLockError(inode, holder);
  }
  const held = server;
  try {
    info.instanceId = (await instanceIdOf(opts.stateDir, { create: opts.createInstanceId !== false })) ?? '';
  } catch (err) {
    held.close();
    throw err;
  }
  return {
    instanceId: info.instanceId,
    inode,
    release: () => new Promise<void>((resolve) => (held.listening ? held.close(() => resolve()) : resolve())),
  };
}
