/**
 * @module Global setup for the webhook tests: one real receiver on loopback (test/support/receiver.ts), its URL
 * handed to the workerd tests through `provide`.
 */
import type { TestProject } from 'vitest/node';
import { startReceiver } from './support/receiver.js';
import './support/provided.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const receiver = await startReceiver();
  project.provide('receiver', receiver.url);
  return () => receiver.close();
}
