// `edgenet ui-url`: the live view's whole URL with its token (`http://127.0.0.1:8788/?token=…`), read from the
// runtime dir's ui-token and ui.json (root only), for a browser on the device or an `ssh -L` user.
import { errorMessage } from '../errors.ts';
import { readUiFiles } from './ui-token.ts';

export interface UiUrlResult {
  code: number;
  out?: string;
  err?: string;
}

/** `inspector`: the Stately inspector's page instead of the live view. Exit 2: no daemon serving it. */
export async function uiUrl(runtimeDir: string, opts: { inspector?: boolean } = {}): Promise<UiUrlResult> {
  let files: Awaited<ReturnType<typeof readUiFiles>>;
  try {
    files = await readUiFiles(runtimeDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { code: 2, err: `no live view: no daemon runs with --ui or --inspect on ${runtimeDir} (no ${runtimeDir}/ui-token)` };
    if (code === 'EACCES') return { code: 2, err: `cannot read ${runtimeDir}/ui-token: it is readable by root only` };
    return { code: 3, err: `cannot read the live view's files in ${runtimeDir}: ${errorMessage(err)}` };
  }
  const base = opts.inspector ? files.info.inspectorUrl : files.info.url;
  if (!base) return { code: 2, err: opts.inspector ? 'the daemon runs without --inspect' : 'the daemon runs without --ui (only --inspect: try `edgenet ui-url --inspector`)' };
  const url = new URL(base);
  url.searchParams.set('token', files.token);
  return { code: 0, out: url.toString() };
}
