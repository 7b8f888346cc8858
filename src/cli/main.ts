// The `edgenet` command line. main() returns the exit code; it never calls process.exit.
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { completionScript, SHELLS, type Shell } from './completion.ts';
import { ApiError, createApiClient, DaemonUnreachableError } from '../api/client.ts';
import { CHECK_NOT_READY, notReady } from '../api/health.ts';
import { DEFAULT_RUNTIME_DIR, DEFAULT_STATE_DIR, resolveLayout } from '../daemon/state-layout.ts';
import { ConfigError, errorMessage, formatIssues } from '../errors.ts';
import { packageVersion } from '../util/package-info.ts';
import { applyDaemonV8Flags } from '../daemon/heap-flags.ts';
import { parseListenAddress, type ListenAddress } from '../daemon/metrics-listen.ts';
import { formatApplyResult, formatStatus, formatTransition } from './status-table.ts';
import { contentTypeOf, readInput, sourceName } from './input.ts';
import { noHeadersOption, outputOf, outputOption, serialize, type OutputFormat } from './output.ts';
import { TRANSITION_KINDS, TRANSITION_STATES, type EventFilter } from '../api/event-filter.ts';

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

/**
 * Where the CLI writes; tests capture it. `signal` ends long-running verbs (`events`) like Ctrl-C does;
 * `readStdin` replaces process.stdin for `-f -`; `progress`: stderr is a terminal (apply shows its progress there).
 */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal?: AbortSignal;
  readStdin?: () => Promise<string>;
  progress?: boolean;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  progress: process.stderr.isTTY === true,
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

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function parseListen(value: string): ListenAddress {
  const addr = parseListenAddress(value);
  if (!addr) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464');
  return addr;
}

function parseInspectPort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a TCP port (1-65535)');
  return port;
}

/** `--kind endpoint,port` (repeatable), each one of `allowed` (listed in the help and the shell completion). */
function listOption<T extends string>(flags: string, description: string, allowed: readonly T[], what: string): Option {
  const option = new Option(flags, description).argParser(parseList(allowed, what));
  option.argChoices = [...allowed];
  return option;
}

/** `--kind endpoint,port` (repeatable): each a transition kind. */
function parseList<T extends string>(allowed: readonly T[], what: string): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => {
    const items = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
    for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new InvalidArgumentError(`unknown ${what} "${item}" (one of ${allowed.join(', ')})`);
    return [...(previous ?? []), ...(items as T[])];
  };
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
    .option('--metrics-listen <host:port>', 'also serve GET /metrics over TCP there (e.g. 127.0.0.1:9464), for a Prometheus that cannot reach the root-only socket', parseListen)
    .option('--max-networks <n>', 'refuse a config with more network instances (default 1000)', parseLimit)
    .option('--max-local-networks <n>', 'refuse a config with more local network instances, one dnsmasq each (default 250)', parseLimit)
    .option('--max-endpoints <n>', 'refuse a config with more app interfaces (default 5000)', parseLimit)
    .addOption(
      new Option('--log-level <level>', 'log level of the JSON log on stdout (default: $EDGENET_LOG_LEVEL, else info)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    )
    .action(async (o: CommonOpts & FormatOpts & { config?: string; inspect?: true | number; inspectUiUrl?: string; ui?: true | number; uiHost?: string; logLevel?: string; metricsListen?: ListenAddress; watch: boolean; allowApiPush?: boolean; maxNetworks?: number; maxLocalNetworks?: number; maxEndpoints?: number }) => {
      // before the daemon's modules load: the young generation keeps the size it has now (heap-flags.ts), and
      // the threads that allocate from here share two malloc arenas (malloc-tuning.ts)
      applyDaemonV8Flags();
      (await import('../daemon/malloc-tuning.ts')).limitMallocArenas();
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
          ...(o.metricsListen && { metricsListen: o.metricsListen }),
        }),
      );
    });

  program
    .command('apply')
    .description('push a config to the daemon; returns when every affected object has settled, and prints what changed')
    .requiredOption('-f, --file <file>', 'config file (YAML or JSON; - for stdin)')
    .addOption(outputOption('the whole ApplyResult (every object created, updated, deleted, refused)'))
    .addOption(new Option('--json', 'the same as -o json').hideHelp())
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .addOption(formatOpt())
    .addOption(tapNamesOpt())
    .action(async (o: CommonOpts & FormatOpts & { file: string; json?: boolean; output?: OutputFormat }) => {
      let text: string;
      try {
        text = await readInput(o.file, io.readStdin);
      } catch (err) {
        io.stderr(`edgenet: cannot read ${o.file}: ${errorMessage(err)}\n`);
        setCode(EXIT.rejected);
        return;
      }
      try {
        const { findingsOf, formatFindings, readTapNamesFile } = await import('../eve/eve-load.ts');
        const tapNames = o.tapNames ? await readTapNamesFile(o.tapNames) : undefined;
        const api = createApiClient(socketOf(o));
        const push = api.putConfig(text, contentTypeOf(o.file, text), {
          ...(o.format ? { format: o.format } : {}),
          ...(tapNames ? { tapNames } : {}),
        });
        const result = io.progress ? await (await import('./apply-progress.ts')).withProgress(api, push, io.stderr) : await push;
        const output = outputOf(o);
        if (output === 'json' || output === 'yaml') io.stdout(await serialize(result, output));
        else {
          const { errorsOf, formatObjectErrors } = await import('../eve/eve-object-errors.ts');
          const findings = [...formatObjectErrors(errorsOf(result)), ...formatFindings(findingsOf(result))].map((l) => `${l}\n`).join('');
          io.stdout(`${formatApplyResult(result, { wide: output === 'wide' })}\n${findings}`);
        }
        setCode(EXIT.ok);
      } catch (err) {
        setCode(failure(err, io, sourceName(o.file)));
      }
    });

  program
    .command('validate')
    .description('check a config file offline (no daemon needed)')
    .requiredOption('-f, --file <file>', 'config file (YAML or JSON; - for stdin)')
    .option('--json', 'print the verdict as JSON: {valid, source, format, issues} (exit 1 when not valid)')
    .addOption(outputOption('the verdict {valid, source, format, issues, eve}'))
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(formatOpt())
    .addOption(tapNamesOpt())
    .action(async (o: CommonOpts & FormatOpts & { file: string; json?: boolean; output?: OutputFormat }) => {
      const source = sourceName(o.file);
      const output = outputOf(o);
      const structured = output === 'json' || output === 'yaml' ? output : undefined;
      try {
        const { formatFindings, formatTaps, loadDocumentFile, loadDocumentText } = await import('../eve/eve-load.ts');
        const loadOpts = { format: o.format, tapNamesPath: o.tapNames };
        const doc = o.file === '-' ? await loadDocumentText(await readInput('-', io.readStdin), source, loadOpts) : await loadDocumentFile(o.file, loadOpts);
        if (structured) {
          const eve = doc.eve ? { findings: doc.eve.findings, errors: doc.eve.errors, names: doc.eve.names } : undefined;
          io.stdout(await serialize({ valid: true, source, format: doc.eve ? 'eve' : 'edgenet', issues: [], ...(eve && { eve }) }, structured));
        } else {
          // EVE: what edgenet does differently, then the interfaces the hypervisor must create
          const { formatObjectErrors } = await import('../eve/eve-object-errors.ts');
          if (doc.eve) io.stdout([...formatObjectErrors(doc.eve.errors), ...formatFindings(doc.eve.findings), ...formatTaps(doc.eve.names)].map((l) => `${l}\n`).join(''));
          io.stdout('ok\n');
        }
        setCode(EXIT.ok);
      } catch (err) {
        const issues = err instanceof ConfigError ? err.issues : [{ path: '', message: errorMessage(err) }];
        if (structured) {
          io.stdout(await serialize({ valid: false, source: err instanceof ConfigError ? (err.source ?? source) : source, issues }, structured));
          setCode(EXIT.rejected);
        } else if (err instanceof ConfigError) setCode(failure(err, io, err.source ?? source));
        else {
          io.stderr(`edgenet: ${source}: ${errorMessage(err)}\n`);
          setCode(EXIT.rejected);
        }
      }
    });

  program
    .command('status')
    .description('networks, endpoints and ports with their state')
    .option('--json', 'print the Status JSON (the same as -o json)')
    .addOption(outputOption('the Status document'))
    .addOption(noHeadersOption())
    .option('--check', `exit ${EXIT.ok} when everything is ready, ${EXIT.notReady} when something is degraded or pending, ${EXIT.unreachable} without a daemon`)
    .addOption(
      new Option('--format <format>', "eve: EVE's ZInfoNetworkInstance per NI (protobuf JSON); eve-metrics: ZMetricNetworkInstance per NI").choices(['eve', 'eve-metrics']),
    )
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts & { json?: boolean; output?: OutputFormat; headers: boolean; check?: boolean; format?: 'eve' | 'eve-metrics' }) => {
      try {
        if (o.format) {
          const api = createApiClient(socketOf(o));
          const doc = o.format === 'eve' ? await api.eveInfo() : await api.eveMetrics();
          io.stdout(await serialize(doc, o.output === 'yaml' ? 'yaml' : 'json'));
          setCode(EXIT.ok);
          return;
        }
        const status = await createApiClient(socketOf(o)).status();
        const output = outputOf(o);
        if (output === 'json' || output === 'yaml') io.stdout(await serialize(status, output));
        else {
          const table = formatStatus(status, { wide: output === 'wide', headers: o.headers });
          io.stdout(table === '' ? '' : `${table}\n`);
        }
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
    .addOption(listOption('--kind <kinds>', 'only these kinds (comma-separated or repeated)', TRANSITION_KINDS, 'kind'))
    .option('--name <name>', 'only this object: an NI or port name, <app>/<ni> for an endpoint; * matches anything (web/*)')
    .addOption(listOption('--to <states>', 'only transitions into these states (comma-separated or repeated)', TRANSITION_STATES, 'state'))
    .option('--json', 'print each transition as one JSON line, with its event id (the same as -o json)')
    .addOption(new Option('-o, --output <format>', 'json: one JSON line per transition, with its event id').choices(['json']))
    .option('--last-event-id <id>', 'first replay what came after this event id (from a JSON line), if the daemon still has it')
    .addOption(stateDirOpt())
    .addOption(runtimeDirOpt())
    .addOption(socketOpt())
    .action(async (o: CommonOpts & { json?: boolean; output?: 'json'; kind?: EventFilter['kinds']; name?: string; to?: EventFilter['to']; lastEventId?: string }) => {
      const json = o.json === true || o.output === 'json';
      const filter: EventFilter = { ...(o.kind && { kinds: o.kind }), ...(o.name !== undefined && { name: o.name }), ...(o.to && { to: o.to }) };
      const stop = new AbortController();
      const onSigint = (): void => stop.abort();
      io.signal?.addEventListener('abort', onSigint, { once: true });
      if (io === processIo) process.once('SIGINT', onSigint);
      try {
        await createApiClient(socketOf(o)).events(
          (t, id) => io.stdout(json ? `${JSON.stringify(id === undefined ? t : { id, ...t })}\n` : `${formatTransition(t)}\n`),
          stop.signal,
          { filter, ...(o.lastEventId !== undefined && { lastEventId: o.lastEventId }) },
        );
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
    .command('completion')
    .description('print a shell completion script: source <(edgenet completion bash), likewise zsh; fish: edgenet completion fish | source')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action((shell: Shell) => {
      io.stdout(completionScript(program, shell));
      setCode(EXIT.ok);
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
