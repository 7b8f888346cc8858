// `edgenet install-service`: writes the package's systemd unit (systemd/edgenet.service) with ExecStart pointing at
// this installation (this node, this package's bin/edgenet.js) and the config file the service runs.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { errorMessage } from '../errors.ts';
import { packageRoot } from '../util/package-info.ts';
import type { CliIo } from './main.ts';

export const UNIT_NAME = 'edgenet.service';

export interface InstallServiceOptions {
  unitDir: string;
  configPath: string;
  allowApiPush: boolean;
  /** print the unit instead of writing it */
  print: boolean;
  /** default: `<node> <package>/bin/edgenet.js` */
  command?: string;
}

/** The shipped unit, with ExecStart replaced. */
export async function renderUnit(opts: Pick<InstallServiceOptions, 'configPath' | 'allowApiPush' | 'command'>): Promise<string> {
  const root = packageRoot();
  if (root === undefined) throw new Error("cannot find edgenet's package directory (it holds systemd/edgenet.service)");
  const template = await readFile(join(root, 'systemd', UNIT_NAME), 'utf8');
  const command = opts.command ?? `${process.execPath} ${join(root, 'bin', 'edgenet.js')}`;
  const exec = `ExecStart=${command} run -c ${resolve(opts.configPath)}${opts.allowApiPush ? ' --allow-api-push' : ''}`;
  if (!/^ExecStart=.*$/m.test(template)) throw new Error(`${UNIT_NAME} of the package has no ExecStart line`);
  return template.replace(/^ExecStart=.*$/m, exec);
}

export async function installService(opts: InstallServiceOptions, io: CliIo): Promise<number> {
  try {
    const unit = await renderUnit(opts);
    if (opts.print) {
      io.stdout(unit);
      return 0;
    }
    await mkdir(opts.unitDir, { recursive: true });
    const path = join(opts.unitDir, UNIT_NAME);
    await writeFileAtomic(path, unit, 0o644);
    io.stdout(`wrote ${path}\nnext: put the config in ${resolve(opts.configPath)}, then: systemctl daemon-reload && systemctl enable --now edgenet\n`);
    return 0;
  } catch (err) {
    io.stderr(`edgenet: install-service: ${errorMessage(err)}\n`);
    return 3;
  }
}
