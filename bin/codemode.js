#!/usr/bin/env node
// The codemode CLI: one Node process. isolated-vm (which needs
// --no-node-snapshot on Node 20+) never loads here: Code Mode's isolates run in
// a worker process that src/codemode/isolate-executor.ts starts with that flag.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
