/** @module House rules no lint plugin checks: kebab-case file names and a `@module` doc line atop each TypeScript file. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => /\.(ts|mjs|js)$/.test(f) && !f.endsWith('.d.ts') && f !== 'worker-configuration.d.ts');
const problems = [];
for (const f of files) {
  const name = basename(f).replace(/\.(test\.)?(ts|mjs|js)$/, '');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+)*$/.test(name)) problems.push(`${f}: file names are kebab-case`);
  let text;
  try {
    text = readFileSync(f, 'utf8');
  } catch {
    continue; // deleted in the working tree
  }
  if (!/^(#!.*\n)?\/\*\*\s*(\n\s*\*\s*)?@module/.test(text))
    problems.push(`${f}: the first line must be a /** @module … */ comment`);
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`check-files: ${files.length} files follow the house rules`);
