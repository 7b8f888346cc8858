// The `edgenet` command line. main() returns the exit code; it never calls process.exit.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { text as readStream } from 'node:stream/consumers';
import { ApiError, createApiClient, DaemonUnreachableError } from '../api/client.ts';
import { CHECK_NOT_READY, notReady } from '../api/health.ts';
import { DEFAULT_RUNTIME_DIR, DEFAULT_STATE_DIR, resolveLayout } from '../daemon/state-layout.ts';
import { ConfigError, errorMessage, formatIssues } from '../errors.ts';
import { packageVersion } from '../util/package-info.ts';
import { formatApplyResult, formatStatus, formatTransition } from './status-table.ts';

/**
 * Exit codes of every verb. `run`: 1 also when there is no config (no -c and no last good config) or the last good
 * config is corrupt. `down`: 0 when everything edgenet owned is gone (daemon running or not), 3 when something
 * could not be removed (what was removed is still printed).
 */
export const EXIT = {
  ok: 0,
  /** bad config, bad usage, unreadable file */
  rejected: 1,
  /** no daemon on the socket */
  unreachable: 2,
  /** the operation failed at run time */
  failure: 3,
  /** `status --check`: something is degraded or not settled yet (pending, creating, deleting) */
  notReady: CHECK_NOT_READY,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where the CLI writes; tests capture it. `signal` ends long-running verbs (`events`) like Ctrl-C does. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal?: AbortSignal;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

interface CommonOpts {
  stateDir?: string;
  runtimeDir?: string;
  socket?: string;
}

interface FormatOpts {
  format?: 'eve' | 'edgenet';
  tapNames?: string;
}

function socketOf(o: CommonOpts): string {
  return resolveLayout({ stateDir: o.stateDir, runtimeDir: o.runtimeDir, socketPath: o.socket }).socketPath;
}

async function readConfigText(file: string): Promise<string> {
  return file === '-' ? readStream(process.stdin) : readFile(file, 'utf8');
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function parseInspectPort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a TCP port (1-65535)');
  return port;
}

function contentTypeOf(file: string, text: string): string {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'application/json';
  if (ext === '.yaml' || ext === '.yml') return 'application/yaml';
  return /^\s*[[{]/.test(text) ? 'application/json' : 'application/yaml';
}

/** Maps an error to its message and exit code. */
function failure(err: unknown, io: CliIo, source?: string): number {
  if (err instanceof ConfigError) {
    io.stderr(`${formatIssues(err.issues, source ?? err.source)}\n`);
    return EXIT.rejected;
  }
  if (err instanceof DaemonUnreachableError) {
    io.stderr(`edgenet: ${err.message}\n`);
    return EXIT.unreachable;
  }
  if (err instanceof ApiError) {
    io.stderr(`edgenet: ${err.message}\n`);
    // 409: the push was refused (the daemon's -c file owns the config)
    return err.status === 409 ? EXIT.rejected : EXIT.failure;
  }
  io.stderr(`edgenet: ${errorMessage(err)}\n`);
  return EXIT.failure;
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command('edgenet')
    .description('Network instances (switch / local) and their endpoints on an edge device.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run `edgenet --help` for usage)');

  const stateDirOpt = (): Option =>
    new Option('--state-dir <dir>', `persistent state: last good config, IP reservations (default ${DEFAULT_STATE_DIR}); given alone, it also holds the runtime files and api.sock`);
  const runtimeDirOpt = (): Option => new Option('--runtime-dir <dir>', `runtime files: api.sock, dnsmasq's files (default: --state-dir if given, else ${DEFAULT_RUNTIME_DIR})`);
  const socketOpt = (): Option => new Option('--socket <path>', 'API socket (default: <runtime-dir>/api.sock)');
  const formatOpt = (): Option =>
    new Option('--format <format>', "config format: edgenet, or eve (an EVE controller's EdgeDevConfig JSON); default: eve when the document has networkInstances").choices(['eve', 'edgenet']);
  const tapNamesOpt = (): Option => new Option('--tap-names <file>', 'eve: JSON map of "<app uuid>/<adapter index or name>" to the interface name the hypervisor creates');

  program
    .command('run')
    .description('run the daemon: apply the config file, re-apply it on change, serve the API on a unix socket')
    .option('-c, --config <file>', 'config file (YAML or JSON); without it, the last good config of the state dir is resumed')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .addOption(formatOpt())
    .addOption(tapNamesOpt())
    .option('--no-watch', 'do not re-apply the config file when it changes (SIGHUP still re-applies it)')
    .option('--allow-api-push', 'with -c: accept API pushes that differ from the file (default: refused with 409)')
    .option('--inspect [port]', 'serve the actors to the Stately inspector on 127.0.0.1 (default port 8787)', parseInspectPort)
    .option('--inspect-ui-url <url>', 'the inspector UI the --inspect page embeds (default https://stately.ai/inspect; a self-hosted one works offline)')
    .option('--ui [port]', 'serve the built-in live view on 127.0.0.1 (default port 8788); `edgenet ui-url` prints its URL with the token', parseInspectPort)
    .option('--ui-host <host>', 'the address the live view listens on (default 127.0.0.1)')
    .option('--max-networks <n>', 'refuse a config with more network instances (default 1000)', parseLimit)
    .option('--max-local-networks <n>', 'refuse a config with more local network instances, one dnsmasq each (default 250)', parseLimit)
    .option('--max-endpoints <n>', 'refuse a config with more app interfaces (default 5000)', parseLimit)
    .addOption(
      new Option('--log-level <level>', 'log level of the JSON log on stdout (default: $EDGENET_LOG_LEVEL, else info)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    )
    .action(async (o: CommonOpts & FormatOpts & { config?: string; inspect?: true | number; inspectUiUrl?: string; ui?: true | number; uiHost?: string; logLevel?: string; watch: boolean; allowApiPush?: boolean; maxNetworks?: number; maxLocalNetworks?: number; maxEndpoints?: number }) => {
      const { runDaemon } = await import('../daemon/daemon.ts');
      const limits = {
        ...(o.maxNetworks !== undefined && { networks: o.maxNetworks }),
        ...(o.maxLocalNetworks !== undefined && { localNetworks: o.maxLocalNetworks }),
        ...(o.maxEndpoints !== undefined && { endpoints: o.maxEndpoints }),
      };
      setCode(
        await runDaemon({
          ...(o.logLevel !== undefined ? { logLevel: o.logLevel } : {}),
          ...(o.config !== undefined ? { configPath: o.config } : {}),
          ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}),
          ...(o.runtimeDir !== undefined ? { runtimeDir: o.runtimeDir } : {}),
          watch: o.watch,
          allowApiPush: o.allowApiPush === true,
          stderr: io.stderr,
          ...(o.format ? { format: o.format } : {}),
          ...(o.tapNames ? { tapNamesPath: o.tapNames } : {}),
          ...(o.socket ? { socketPath: o.socket } : {}),
          ...(o.inspect !== undefined && { inspect: { ...(o.inspect !== true && { port: o.inspect }), ...(o.inspectUiUrl !== undefined && { uiUrl: o.inspectUiUrl }) } }),
          ...((o.ui !== undefined || o.uiHost !== undefined) && { ui: { ...(o.ui !== undefined && o.ui !== true && { port: o.ui }), ...(o.uiHost !== undefined && { host: o.uiHost }) } }),
          ...(Object.keys(limits).length > 0 && { limits }),
        }),
      );
    });

  program
    .command('apply')
    .description('push a config to the daemon; returns when every affected object has settled, and prints what changed')
    .requiredOption('-f, --file <file>', 'config file (YAML or JSON; - for stdin)')
    .option('--json', 'print the result as JSON')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .addOption(formatOpt())
    .addOption(tapNamesOpt())
    .action(async (o: CommonOpts & FormatOpts & { file: string; json?: boolean }) => {
      let text: string;
      try {
        text = await readConfigText(o.file);
      } catch (err) {
        io.stderr(`edgenet: cannot read ${o.file}: ${errorMessage(err)}\n`);
        setCode(EXIT.rejected);
        return;
      }
      try {
        const { findingsOf, formatFindings, readTapNamesFile } = await import('../eve/eve-load.ts');
        const tapNames = o.tapNames ? await readTapNamesFile(o.tapNames) : undefined;
        const result = await createApiClient(socketOf(o)).putConfig(text, contentTypeOf(o.file, text), {
          ...(o.format ? { format: o.format } : {}),
          ...(tapNames ? { tapNames } : {}),
        });
        const { errorsOf, formatObjectErrors } = await import('../eve/eve-object-errors.ts');
        const findings = [...formatObjectErrors(errorsOf(result)), ...formatFindings(findingsOf(result))].map((l) => `${l}\n`).join('');
        io.stdout(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatApplyResult(result)}\n${findings}`);
        setCode(EXIT.ok);
      } catch (err) {
        setCode(failure(err, io, o.file));
      }
    });

  program
    .command('validate')
    .description('check a config file offline (no daemon needed)')
    .requiredOption('-f, --file <file>', 'config file (YAML or JSON)')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(formatOpt())
    .addOption(tapNamesOpt())
    .action(async (o: CommonOpts & FormatOpts & { file: string }) => {
      try {
        const { formatFindings, formatTaps, loadDocumentFile } = await import('../eve/eve-load.ts');
        const doc = await loadDocumentFile(o.file, { format: o.format, tapNamesPath: o.tapNames });
        // EVE: what edgenet does differently, then the interfaces the hypervisor must create
        const { formatObjectErrors } = await import('../eve/eve-object-errors.ts');
        if (doc.eve) io.stdout([...formatObjectErrors(doc.eve.errors), ...formatFindings(doc.eve.findings), ...formatTaps(doc.eve.names)].map((l) => `${l}\n`).join(''));
        io.stdout('ok\n');
        setCode(EXIT.ok);
      } catch (err) {
        if (err instanceof ConfigError) setCode(failure(err, io, err.source ?? o.file));
        else {
          io.stderr(`edgenet: ${o.file}: ${errorMessage(err)}\n`);
          setCode(EXIT.rejected);
        }
      }
    });

  program
    .command('status')
    .description('networks, endpoints and ports with their state')
    .option('--json', 'print the Status JSON')
    .option('--check', `exit ${EXIT.ok} when everything is ready, ${EXIT.notReady} when something is degraded or pending, ${EXIT.unreachable} without a daemon`)
    .addOption(
      new Option('--format <format>', "eve: EVE's ZInfoNetworkInstance per NI (protobuf JSON); eve-metrics: ZMetricNetworkInstance per NI").choices(['eve', 'eve-metrics']),
    )
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts & { json?: boolean; check?: boolean; format?: 'eve' | 'eve-metrics' }) => {
      try {
        if (o.format) {
          const api = createApiClient(socketOf(o));
          const doc = o.format === 'eve' ? await api.eveInfo() : await api.eveMetrics();
          io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
          setCode(EXIT.ok);
          return;
        }
        const status = await createApiClient(socketOf(o)).status();
        io.stdout(o.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
        const open = o.check ? notReady(status) : [];
        for (const n of open) io.stderr(`not ready: ${n.kind} ${n.name} ${n.state}${n.reason ? ` (${n.reason})` : ''}\n`);
        setCode(open.length ? EXIT.notReady : EXIT.ok);
      } catch (err) {
        setCode(failure(err, io));
      }
    });

  program
    .command('events')
    .description('live state transitions, one per line (Ctrl-C to stop)')
    .option('--json', 'print each transition as one JSON line')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts & { json?: boolean }) => {
      const stop = new AbortController();
      const onSigint = (): void => stop.abort();
      io.signal?.addEventListener('abort', onSigint, { once: true });
      if (io === processIo) process.once('SIGINT', onSigint);
      try {
        await createApiClient(socketOf(o)).events((t) => io.stdout(o.json ? `${JSON.stringify(t)}\n` : `${formatTransition(t)}\n`), stop.signal);
        if (stop.signal.aborted) setCode(EXIT.ok);
        else {
          io.stderr('edgenet: the daemon closed the event stream (stopped?)\n');
          setCode(EXIT.unreachable);
        }
      } catch (err) {
        setCode(failure(err, io));
      } finally {
        process.off('SIGINT', onSigint);
        io.signal?.removeEventListener('abort', onSigint);
      }
    });

  program
    .command('ui-url')
    .description("the live view's URL with its token (http://127.0.0.1:8788/?token=…), for a browser or an ssh -L user (root: the token is readable by root only)")
    .option('--inspector', "the Stately inspector's page (--inspect) instead")
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .action(async (o: CommonOpts & { inspector?: boolean }) => {
      const { uiUrl } = await import('../ui/ui-url.ts');
      const r = await uiUrl(resolveLayout({ stateDir: o.stateDir, runtimeDir: o.runtimeDir }).runtimeDir, { inspector: o.inspector === true });
      if (r.out) io.stdout(`${r.out}\n`);
      if (r.err) io.stderr(`edgenet: ${r.err}\n`);
      setCode(r.code);
    });

  program
    .command('down')
    .description('remove everything edgenet owns (bridges, veths, table inet edgenet, dnsmasq, state files but the last good config), with or without the daemon running; exit 0: all gone, 3: something could not be removed')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts) => {
      const { assertDownHere, teardownOffline, waitForSocketGone } = await import('../reconcile/teardown.ts');
      const socket = socketOf(o);
      let code: number = EXIT.ok;
      // in another network namespace than the instance's, neither its daemon nor its marks are asked to go
      try {
        await assertDownHere(resolveLayout({ stateDir: o.stateDir, runtimeDir: o.runtimeDir }).runtimeDir);
      } catch (err) {
        io.stderr(`edgenet: down: ${errorMessage(err)}\n`);
        setCode(EXIT.failure);
        return;
      }
      // a running daemon removes what it runs and stops; whatever is left (or everything, without one) goes by its marks
      try {
        await createApiClient(socket).teardown();
        io.stdout('daemon: tore down its network instances and endpoints; stopping\n');
        if (!(await waitForSocketGone(socket))) io.stderr(`edgenet: the daemon still answers on ${socket} after its teardown\n`);
      } catch (err) {
        if (err instanceof DaemonUnreachableError) io.stdout(`no daemon answering on ${socket}: removing by marks\n`);
        else {
          io.stderr(`edgenet: daemon teardown failed: ${errorMessage(err)}; removing by marks\n`);
          code = EXIT.failure;
        }
      }
      try {
        const removed = await teardownOffline({ ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}), ...(o.runtimeDir !== undefined ? { runtimeDir: o.runtimeDir } : {}), socketPath: socket });
        io.stdout(removed.length ? removed.map((r) => `removed ${r}\n`).join('') : 'nothing else of edgenet was left\n');
      } catch (err) {
        io.stderr(`edgenet: down: ${errorMessage(err)}\n`);
        code = EXIT.failure;
      }
      setCode(code);
    });

  program
    .command('version')
    .description("this CLI's version and the running daemon's")
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts) => {
      io.stdout(`edgenet ${packageVersion()}\n`);
      try {
        const v = await createApiClient(socketOf(o)).version();
        io.stdout(`daemon ${v.version}\n`);
        setCode(EXIT.ok);
      } catch (err) {
        if (err instanceof DaemonUnreachableError) {
          io.stdout('daemon not running\n');
          setCode(EXIT.ok);
        } else setCode(failure(err, io));
      }
    });

  program
    .command('install-service')
    .description('write the systemd unit (edgenet.service) for this installation; then: systemctl daemon-reload && systemctl enable --now edgenet')
    .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
    .option('-c, --config <file>', 'the config file the service runs', '/etc/edgenet/config.yaml')
    .option('--allow-api-push', 'let the service accept API pushes that differ from the file')
    .option('--print', 'print the unit instead of writing it')
    .action(async (o: { unitDir: string; config: string; allowApiPush?: boolean; print?: boolean }) => {
      const { installService } = await import('./install-service.ts');
      setCode(await installService({ unitDir: o.unitDir, configPath: o.config, allowApiPush: o.allowApiPush === true, print: o.print === true }, io));
    });

  program
    .command('demo')
    .description('sandboxed demo (root): builds a throw-away topology in network namespaces and pings through it')
    .addOption(stateDirOpt().hideHelp())
    .action(async () => {
      const { runDemo } = await import('./demo.ts');
      setCode(await runDemo(io));
    });

  return program;
}

/** Runs the CLI with `argv` as in process.argv (node, script, args...). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.rejected;
    return failure(err, io);
  }
  return code;
}
