/**
 * @module The layers are enforced, not just drawn: forbidden imports planted in temporary files under src/ and
 * models/ must fail `eslint` with the layer rule (import-x/no-restricted-paths) or the cycle rule (import-x/no-cycle),
 * while the same files importing downward pass. The oracle is ESLint itself, run on the repository's own config.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const tag = randomBytes(4).toString('hex');
const planted: string[] = [];

/** Writes a planted module (with the house `@module` line) and remembers it for removal. */
function plant(path: string, body: string): string {
  const file = join(ROOT, path.replace('TAG', tag));
  writeFileSync(file, `/** @module A file planted by test/node/layers.test.ts; removed when it ends. */\n${body}\n`);
  planted.push(file);
  return file;
}

afterAll(() => {
  for (const f of planted) rmSync(f, { force: true });
});

const cases = {
  taskImportsHttp: plant('src/tasks/planted-TAG.ts', "export { createRouter } from '../http/router.js';"),
  codecImportsTask: plant('src/codecs/planted-TAG.ts', "export { taskModule } from '../tasks/index.js';"),
  servingImportsHttp: plant('src/serving/planted-TAG.ts', "export { ErrorSchema } from '../http/router.js';"),
  srcImportsScripts: plant('src/lib/planted-TAG.ts', "export { BUILD_DIR } from '../../scripts/model-store.js';"),
  modelsImportScripts: plant('models/lib/planted-TAG.ts', "export { BUILD_DIR } from '../../scripts/model-store.js';"),
  cycleA: plant(
    'src/maths/planted-a-TAG.ts',
    `import { b } from './planted-b-${tag}.js';\nexport const a = (): number => b + 1;`,
  ),
  cycleB: plant(
    'src/maths/planted-b-TAG.ts',
    `import { a } from './planted-a-${tag}.js';\nexport const b = 1;\nexport const c = a;`,
  ),
  // Controls: the same kinds of file importing downward.
  httpImportsServing: plant('src/http/planted-TAG.ts', "export { resolveModel } from '../serving/contract.js';"),
  taskImportsMaths: plant('src/tasks/planted-ok-TAG.ts', "export { softmax } from '../maths/scores.js';"),
};

describe('layer rules in eslint', () => {
  it('fails every planted upward import and cycle, and passes the downward controls', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const results = await eslint.lintFiles(Object.values(cases));
    const rules = (file: string): string[] =>
      (results.find((r) => r.filePath === file)?.messages ?? []).map((m) => m.ruleId ?? m.message);
    for (const key of [
      'taskImportsHttp',
      'codecImportsTask',
      'servingImportsHttp',
      'srcImportsScripts',
      'modelsImportScripts',
    ] as const) {
      expect(rules(cases[key]), key).toContain('import-x/no-restricted-paths');
    }
    expect(rules(cases.cycleA)).toContain('import-x/no-cycle');
    expect(rules(cases.cycleB)).toContain('import-x/no-cycle');
    expect(rules(cases.httpImportsServing)).toEqual([]);
    expect(rules(cases.taskImportsMaths)).toEqual([]);
  }, 120_000);
});
