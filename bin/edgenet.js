#!/usr/bin/env node
// The `edgenet` command: runs the compiled CLI (dist/, built by `npm run build`; scripts/setup.sh and the test
// suite's global setup build it whenever the sources changed).
let main;
try {
  ({ main } = await import('../dist/src/cli/main.bundle.js'));
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.bundle.js')) {
    console.error('edgenet: the compiled CLI (dist/) is missing: run `npm run build` (or `bash scripts/setup.sh`) first');
    process.exit(1);
  }
  throw err;
}
// `edgenet status | head`: the reader went away; what is left to print has no one to read it — end quietly
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
process.exitCode = await main(process.argv);
