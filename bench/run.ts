/** @module `npm run bench`: runs every benchmark in one process and writes the tables under bench/results/. */
import { benchEdge } from './edge.js';
import { writeResults } from './harness.js';

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length };
results['edge'] = await benchEdge();
console.log(`\nwritten: ${writeResults('bench', results)}`);
