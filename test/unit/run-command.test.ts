// The drivers' one command runner: stdin through a file, output and exit code collected, a missing command a KernelError.
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/errors.ts';
import { runCommand } from '../../src/drivers/run-command.ts';

describe('runCommand', () => {
  it('feeds input as stdin and collects stdout, stderr and the exit code', async () => {
    const r = await runCommand(['sh', '-c', 'cat; echo oops >&2; exit 3'], 'line 1\nline 2\n');
    expect(r).toEqual({ code: 3, stdout: 'line 1\nline 2\n', stderr: 'oops\n' });
  });

  it('gives a command that reads /dev/stdin its input (nft -f - does), and one that never reads it no EPIPE', async () => {
    expect((await runCommand(['sh', '-c', 'cat /dev/stdin'], 'via /dev/stdin')).stdout).toBe('via /dev/stdin');
    expect(await runCommand(['true'], 'x'.repeat(1 << 20))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('gives the input as a file without a name (O_TMPFILE, else unlinked at once): nothing is left in the temp dir', async () => {
    const before = (await readdir(tmpdir())).filter((f) => f.startsWith('edgenet-in-'));
    const r = await runCommand(['sh', '-c', 'readlink /proc/self/fd/0; cat'], 'x');
    expect(r.stdout).toMatch(/\(deleted\)\nx$/);
    expect((await readdir(tmpdir())).filter((f) => f.startsWith('edgenet-in-'))).toEqual(before);
  });

  it('runs without stdin when there is no input', async () => {
    expect((await runCommand(['sh', '-c', 'test -t 0 || read x || echo eof'])).stdout).toBe('eof\n');
  });

  it('rejects with a KernelError naming the command when it cannot be started', async () => {
    const err = await runCommand(['/nonexistent/edgenet-cmd']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(String(err)).toContain('/nonexistent/edgenet-cmd');
  });

  it('rejects with the abort reason when aborted', async () => {
    const ac = new AbortController();
    const p = runCommand(['sleep', '5'], undefined, ac.signal);
    ac.abort(new Error('stop now'));
    await expect(p).rejects.toThrow('stop now');
  });
});
