/**
 * @module Block-mean timing, runtime-neutral so the bench Worker (inside workerd) and the Node side measure alike.
 * workerd's clock moves in 1 ms steps (a Spectre mitigation): one sample is the mean of a block of calls lasting
 * ≥ 25 ms, so that step is under 4% of it; p50/p99 are over the blocks. Warm-up is by time as well as count, since
 * V8 runs WASM in its baseline tier until functions get hot.
 */

/** Minimum warm-up time before measuring. */
export const WARMUP_MS = 2000;
const BLOCK_MS = 25;
const MIN_SAMPLES = 30;

/** Per-call means of ≥ 30 blocks, and the block size used. */
export async function blockMeans(
  call: () => Promise<unknown>,
  iterations: number,
  warmup: number,
): Promise<{ times: number[]; block: number }> {
  const warmStart = performance.now();
  for (let i = 0; i < warmup || performance.now() - warmStart < WARMUP_MS; i++) await call();
  let block = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < block; i++) await call();
    if (performance.now() - t >= BLOCK_MS || block >= 4096) break;
    block *= 2;
  }
  const times: number[] = [];
  const samples = Math.max(MIN_SAMPLES, Math.ceil(iterations / block));
  for (let s = 0; s < samples; s++) {
    const t = performance.now();
    for (let i = 0; i < block; i++) await call();
    times.push((performance.now() - t) / block);
  }
  return { times, block };
}
