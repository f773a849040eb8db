/**
 * @module Global setup for the workerd tests' edge → origin paths: starts one real origin process on loopback
 * (after test/global-setup.ts has built the models) and hands its URL and secret over through `provide`.
 * miniflare's outbound fetch reaches 127.0.0.1, so workerd-side tests call it for real.
 */
import type { TestProject } from 'vitest/node';
import { spawnOrigin, waitReady } from '../origin/spawn.js';
import './support/provided.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await spawnOrigin();
  await waitReady(origin);
  project.provide('origin', { url: origin.url, secret: origin.secret });
  return () => origin.stop();
}
