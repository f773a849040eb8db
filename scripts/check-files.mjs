/**
 * @module House rules no lint plugin checks: kebab-case file names, a `@module` doc line atop each TypeScript file, and
 * no folder of src/ holding more than 20 files side by side (a folder is one responsibility; split it when it grows).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Files side by side in one folder of src/ before it must be split. */
const MAX_FILES_PER_FOLDER = 20;

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
const perFolder = new Map();
for (const f of files.filter((f) => f.startsWith('src/')))
  perFolder.set(dirname(f), (perFolder.get(dirname(f)) ?? 0) + 1);
for (const [folder, n] of perFolder)
  if (n > MAX_FILES_PER_FOLDER) problems.push(`${folder}/: ${n} files side by side (at most ${MAX_FILES_PER_FOLDER})`);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`check-files: ${files.length} files follow the house rules`);
