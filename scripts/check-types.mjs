/**
 * @module `npm run types:check`: regenerates the Workers types beside the committed worker-configuration.d.ts and
 * fails when they differ. Not `wrangler types --check`: in wrangler 4.86 the check reads `.dev.vars` even with
 * `--env-file`, so the development key `npm start` keeps there would make every local check fail.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const COMMITTED = 'worker-configuration.d.ts';
const FRESH = 'worker-configuration.check.d.ts';
const body = (file) => readFileSync(file, 'utf8').split('\n').slice(2).join('\n'); // line 2 names the command
try {
  execFileSync(
    process.execPath,
    ['node_modules/wrangler/bin/wrangler.js', 'types', FRESH, '--strict-vars=false', '--env-file', '/dev/null'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  if (body(FRESH) !== body(COMMITTED)) {
    console.error(`${COMMITTED} is out of date with wrangler.toml: run \`npm run types\`.`);
    process.exitCode = 1;
  } else console.log(`${COMMITTED} is up to date.`);
} finally {
  rmSync(FRESH, { force: true });
}
