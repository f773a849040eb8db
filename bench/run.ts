/** @module `npm run bench`: runs every benchmark in one process and writes the tables under bench/results/. */
import { cpus, loadavg } from 'node:os';
import { benchAudio } from './audio.js';
import { benchEdge } from './edge.js';
import { benchFaces } from './faces.js';
import { benchGeneration } from './generation.js';
import { writeResults } from './harness.js';
import { benchHf } from './hf.js';
import { benchJobs } from './jobs.js';
import { benchOrigin, printOrigin } from './origin.js';
import { benchZoo } from './zoo.js';

// One section can be run alone: `npm run bench -- edge` (names: edge, zoo, faces, audio, hf, origin, jobs, generation).
const only = new Set(process.argv.slice(2));
const want = (name: string): boolean => only.size === 0 || only.has(name);

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  // Shared, noisy machines: the load when the run started says how far to trust absolute figures.
  loadavg: loadavg(),
};
if (want('edge')) results['edge'] = await benchEdge();
if (want('jobs')) results['jobs'] = await benchJobs();
if (want('zoo')) results['zoo'] = await benchZoo();
if (want('faces')) results['faces'] = await benchFaces();
if (want('audio')) results['audio'] = await benchAudio();
if (want('hf')) results['hf'] = await benchHf();
if (want('origin')) {
  const origin = await benchOrigin();
  results['origin'] = { tables: printOrigin(origin), raw: origin };
}
if (want('generation')) results['generation'] = await benchGeneration();
// A partial run is filed under its sections' names, so bench-latest.json always holds a whole run.
console.log(`\nwritten: ${writeResults(only.size === 0 ? 'bench' : `bench-${[...only].sort().join('-')}`, results)}`);
