#!/usr/bin/env node
/** @module The `edge-infer` bin: registers tsx (the CLI is TypeScript, run from source like the repo's scripts), then runs cli/main.ts. */
import { register } from 'tsx/esm/api';

register();
// Imported after register(), so Node can load the .ts files.
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
