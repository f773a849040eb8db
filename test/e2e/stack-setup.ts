/**
 * @module Global setup of the e2e project: one `npm start` stack for every e2e file (starting wrangler dev and the
 * origin costs ~30 s), handed over through `provide`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startStack, type RunningStack } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The running stack's addresses and secrets (plain data: what crosses to the test files). */
    stack: Omit<RunningStack, 'log' | 'stop'>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The models first, here (cached; the build's lock makes the root global setup's build wait or reuse it): on a fresh
  // machine they take minutes, which would otherwise count against the stack's start-up deadline inside start.ts.
  execFileSync(
    process.execPath,
    [join('node_modules', 'tsx', 'dist', 'cli.mjs'), join('scripts', 'models.ts'), 'build'],
    { stdio: 'inherit' },
  );
  const stack = await startStack();
  project.provide('stack', {
    edge: stack.edge,
    origin: stack.origin,
    originSecret: stack.originSecret,
    key: stack.key,
    webhookSecret: stack.webhookSecret,
    devVars: stack.devVars,
    stateDir: stack.stateDir,
  });
  return stack.stop;
}
