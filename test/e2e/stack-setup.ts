/**
 * @module Global setup of the e2e project: one `npm start` stack for every e2e file (starting wrangler dev and the
 * origin costs ~30 s), handed over through `provide`.
 */
import type { TestProject } from 'vitest/node';
import { startStack, type RunningStack } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The running stack's addresses and secrets (plain data: what crosses to the test files). */
    stack: Omit<RunningStack, 'log' | 'stop'>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
