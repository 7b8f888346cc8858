// Probes through iputils `ping -I <ifname>` and `curl --interface <ifname> telnet://host:port` (both bind to the
// device; both are already dependencies: the tests' traffic and the API client). curl's telnet with stdin closed
// ends right after the handshake; `%{time_connect}` > 0 says the handshake completed.
import { spawn } from 'node:child_process';
import type { ProbeDriver, ProbeOutcome } from './probes.ts';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: readonly string[], signal?: AbortSignal): Promise<Result> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const seconds = (ms: number): string => (Math.max(ms, 1) / 1000).toFixed(3);

export function createExecProbeDriver(opts: { exec?: string[] } = {}): ProbeDriver {
  const exec = opts.exec ?? [];
  return {
    async ping(ifname: string, target: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
      // -W takes seconds, fractions allowed (-w takes whole seconds only: not used)
      const r = await run([...exec, 'ping', '-n', '-q', '-c', '1', '-I', ifname, '-W', seconds(timeoutMs), target], signal);
      if (r.code === 0) return { ok: true, detail: `ping ${target} via ${ifname} answered` };
      const why = r.code === 1 ? `no answer within ${timeoutMs} ms` : (r.stderr.trim().split('\n')[0] ?? `exit ${r.code}`);
      return { ok: false, detail: `ping ${target} via ${ifname}: ${why}` };
    },
    async tcp(ifname: string, host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
      const t = seconds(timeoutMs);
      const r = await run([...exec, 'curl', '-s', '-o', '/dev/null', '-w', '%{time_connect}', '--interface', ifname, '--connect-timeout', t, '-m', t, `telnet://${host}:${port}`], signal);
      const connected = Number(r.stdout.trim()) > 0;
      if (connected) return { ok: true, detail: `tcp ${host}:${port} via ${ifname} connected` };
      const why = r.code === 7 ? 'refused or unreachable' : r.code === 28 ? `no answer within ${timeoutMs} ms` : `curl exit ${r.code}`;
      return { ok: false, detail: `tcp ${host}:${port} via ${ifname}: ${why}` };
    },
  };
}
