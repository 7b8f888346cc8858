// The daemon as `edgenet run` runs it, with library options the CLI does not expose, for the bench's A/B
// experiments only (the figures come from bin/edgenet.js): BENCH_AUDIT_MS (firewall audit period; 0: off),
// BENCH_LINK_THROTTLE_MS. Usage: node bin/run-ts.js bench/daemon-entry.ts CONFIG STATE_DIR
import { loadConfigFile } from '../src/config/config-load.ts';
import { runDaemon } from '../src/daemon/daemon.ts';
import { createEdgenet, lastGoodConfig } from '../src/edgenet.ts';
import { BENCH_MAX_ENDPOINTS } from './daemon.ts';

const [configPath, stateDir] = process.argv.slice(2);
if (!configPath || !stateDir) {
  console.error('usage: daemon-entry.ts CONFIG STATE_DIR');
  process.exit(1);
}
const num = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const auditIntervalMs = num('BENCH_AUDIT_MS');
const linkThrottleMs = num('BENCH_LINK_THROTTLE_MS');
// as the bench runs `edgenet run`: pushes over the API, the caps it needs beyond the default (BENCH_MAX_ENDPOINTS)
process.exitCode = await runDaemon(
  { configPath, stateDir, allowApiPush: true, limits: { endpoints: BENCH_MAX_ENDPOINTS } },
  {
    createEdgenet: (opts) =>
      createEdgenet({ ...opts, ...(auditIntervalMs !== undefined && { auditIntervalMs }), ...(linkThrottleMs !== undefined && { linkThrottleMs }) }),
    loadConfigFile,
    lastGoodConfig,
  },
);
