#!/usr/bin/env node
// Runs the TypeScript CLI directly (no build step): tsx registers its ESM loader, then the CLI is imported.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
