// The one way the drivers run a helper command (ip, nft, sysctl, conntrack): collect stdout/stderr, feed stdin.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError } from '../errors.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv`; `input` becomes its stdin. The input goes through an unlinked temporary file, not a pipe: nft 1.0.6
 * reads `-f -` by opening /dev/stdin, which fails (ENXIO) on the socketpair Node gives a child as a stdin pipe, and a
 * file never raises EPIPE when a command exits before reading it all. A command that cannot be started rejects with a
 * KernelError (`exec`); one that runs and fails resolves with its exit code and stderr. `onSpawn` learns its pid
 * (the nft monitor tells edgenet's own transactions from others' by it).
 */
// Linux's O_TMPFILE (__O_TMPFILE of asm-generic: x86-64, arm64, arm) with O_DIRECTORY; Node exports no constant
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/**
 * A file with no name (O_TMPFILE): no crash can leave it behind. A filesystem without O_TMPFILE gets a named one,
 * unlinked at once (a SIGKILL between the two leaves an empty `edgenet-in-*`).
 */
async function anonymousFile(): Promise<FileHandle> {
  try {
    return await open(tmpdir(), O_TMPFILE | constants.O_RDWR, 0o600);
  } catch {
    const path = join(tmpdir(), `edgenet-in-${process.pid}-${randomBytes(6).toString('hex')}`);
    const file = await open(path, 'wx+', 0o600);
    await unlink(path);
    return file;
  }
}

export async function runCommand(argv: readonly string[], input?: string, signal?: AbortSignal, onSpawn?: (pid: number) => void): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  let stdin: FileHandle | undefined;
  if (input !== undefined) {
    stdin = await anonymousFile();
    await stdin.write(input, 0, 'utf8'); // positioned write: the child's read offset stays at 0
  }
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: [stdin ? stdin.fd : 'ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
      if (child.pid !== undefined) onSpawn?.(child.pid);
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : err);
        reject(new KernelError('exec', cmd, err.code, err.message));
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  } finally {
    await stdin?.close();
  }
}
