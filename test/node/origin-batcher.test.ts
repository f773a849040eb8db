/**
 * @module The dynamic batcher alone: stacking along dim 0, splitting back in order, the queue delay (on a faked clock),
 * limits, queue-full and per-request errors.
 */
import { describe, expect, it, vi } from 'vitest';
import { DynamicBatcher, padColumns, QueueFullError, sliceRows, stackFeeds } from '../../origin/batcher.js';
import type { Feeds, Outputs } from '../../src/tasks/tensor.js';

const row = (v: number, rows = 1): Feeds => ({
  x: { type: 'float32', dims: [rows, 2], data: Float32Array.from({ length: rows * 2 }, (_, i) => v + i) },
});

/** A fake model: y = 10·x, recording the batch sizes it saw. */
function fakeModel(fail?: (feeds: Feeds) => boolean): { runs: number[]; run: (feeds: Feeds) => Promise<Outputs> } {
  const runs: number[] = [];
  return {
    runs,
    run: async (feeds) => {
      await new Promise((r) => setTimeout(r, 5));
      const x = feeds['x'];
      if (x === undefined) throw new Error('no x');
      runs.push(x.dims[0] ?? 0);
      if (fail?.(feeds) === true) throw new Error('poisoned row');
      return { y: { type: 'float32', dims: x.dims, data: Float32Array.from(x.data as Float32Array, (v) => v * 10) } };
    },
  };
}

describe('dynamic batcher', () => {
  it('stacks concurrent requests into few runs and hands each its own rows, in order', async () => {
    const model = fakeModel();
    const b = new DynamicBatcher({
      maxBatchSize: 64,
      maxQueueDelayMs: 5,
      maxQueueSize: 100,
      stackable: true,
      run: model.run,
    });
    const outs = await Promise.all(Array.from({ length: 32 }, (_, i) => b.run(row(i * 100, 1 + (i % 3)))));
    expect(model.runs.length).toBeLessThan(32);
    expect(model.runs.reduce((a, n) => a + n, 0)).toBe(
      Array.from({ length: 32 }, (_, i) => 1 + (i % 3)).reduce((a, n) => a + n, 0),
    );
    outs.forEach((o, i) => {
      const rows = 1 + (i % 3);
      expect(o['y']?.dims).toEqual([rows, 2]);
      expect(Array.from(o['y']?.data as Float32Array)).toEqual(
        Array.from({ length: rows * 2 }, (_, k) => (i * 100 + k) * 10),
      );
    });
  });

  it('never exceeds max batch size rows, runs oversize requests alone, and keeps unlike shapes apart', async () => {
    const model = fakeModel();
    const b = new DynamicBatcher({
      maxBatchSize: 4,
      maxQueueDelayMs: 5,
      maxQueueSize: 100,
      stackable: true,
      run: model.run,
    });
    const odd: Feeds = { x: { type: 'float32', dims: [1, 3], data: new Float32Array(3) } };
    await Promise.all([...Array.from({ length: 10 }, (_, i) => b.run(row(i))), b.run(row(0, 9)), b.run(odd)]);
    expect(Math.max(...model.runs)).toBe(9);
    expect(model.runs.filter((n) => n !== 9).every((n) => n <= 4)).toBe(true);
  });

  it('waits at most max queue delay for company, on a faked clock', async () => {
    // The batcher reads performance.now() and sets a timer: both faked, so the delay is measured, not raced.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const runs: { at: number; rows: number }[] = [];
      const b = new DynamicBatcher({
        maxBatchSize: 64,
        maxQueueDelayMs: 30,
        maxQueueSize: 100,
        stackable: true,
        run: (feeds) => {
          const x = feeds['x'];
          if (x === undefined) throw new Error('no x');
          runs.push({ at: performance.now(), rows: x.dims[0] ?? 0 });
          const y = Float32Array.from(x.data as Float32Array, (v) => v * 10);
          return Promise.resolve({ y: { type: 'float32', dims: x.dims, data: y } });
        },
      });
      const t0 = performance.now();
      const first = b.run(row(1));
      await vi.advanceTimersByTimeAsync(29);
      // Still waiting for company at 29 ms; a request that comes now joins it.
      expect(runs).toEqual([]);
      const second = b.run(row(7));
      await vi.advanceTimersByTimeAsync(1);
      expect(runs).toEqual([{ at: t0 + 30, rows: 2 }]);
      const [a, c] = await Promise.all([first, second]);
      expect(Array.from(a['y']?.data as Float32Array)).toEqual([10, 20]);
      expect(Array.from(c['y']?.data as Float32Array)).toEqual([70, 80]);
      // Alone, a request waits the whole delay and not a tick more.
      const t1 = performance.now();
      const alone = b.run(row(3));
      await vi.advanceTimersByTimeAsync(29);
      expect(runs).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(runs[1]).toEqual({ at: t1 + 30, rows: 1 });
      expect(Array.from((await alone)['y']?.data as Float32Array)).toEqual([30, 40]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses beyond the queue size with QueueFullError', async () => {
    const model = fakeModel();
    const b = new DynamicBatcher({
      maxBatchSize: 64,
      maxQueueDelayMs: 50,
      maxQueueSize: 3,
      stackable: true,
      run: model.run,
    });
    const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => b.run(row(i))));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    const refused = settled.filter((s) => s.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) expect(r.reason).toBeInstanceOf(QueueFullError);
  });

  it('a failing batch is re-run request by request: only the bad request fails', async () => {
    const model = fakeModel((feeds) => (feeds['x']?.data as Float32Array).includes(666));
    const b = new DynamicBatcher({
      maxBatchSize: 64,
      maxQueueDelayMs: 5,
      maxQueueSize: 100,
      stackable: true,
      run: model.run,
    });
    const settled = await Promise.allSettled([b.run(row(1)), b.run(row(666)), b.run(row(3))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const third = settled[2];
    expect(third?.status === 'fulfilled' ? Array.from(third.value['y']?.data as Float32Array) : []).toEqual([30, 40]);
  });

  it('with batching off (max batch 1) every request is its own run', async () => {
    const model = fakeModel();
    const b = new DynamicBatcher({
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      maxQueueSize: 100,
      stackable: true,
      run: model.run,
    });
    await Promise.all(Array.from({ length: 8 }, (_, i) => b.run(row(i))));
    expect(model.runs).toEqual(Array.from({ length: 8 }, () => 1));
  });

  it('stacks and slices every element type along dim 0', () => {
    const stacked = stackFeeds([
      {
        a: { type: 'int64', dims: [1, 2], data: BigInt64Array.from([1n, 2n]) },
        s: { type: 'string', dims: [1], data: ['x'] },
      },
      {
        a: { type: 'int64', dims: [2, 2], data: BigInt64Array.from([3n, 4n, 5n, 6n]) },
        s: { type: 'string', dims: [2], data: ['y', 'z'] },
      },
    ]);
    expect(stacked['a']?.dims).toEqual([3, 2]);
    expect(Array.from(stacked['a']?.data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(stacked['s']?.data).toEqual(['x', 'y', 'z']);
    const a = stacked['a'];
    if (a === undefined) throw new Error('missing');
    expect(Array.from(sliceRows(a, 1, 2).data as BigInt64Array)).toEqual([3n, 4n, 5n, 6n]);
  });

  it('zero-pads dim 1 of padded inputs so rows of different lengths share one run, and answers each row as alone', async () => {
    // An embedding bag: y = Σ values (the padding's 0 values add nothing), one output per row.
    const bag = (values: number[]): Feeds => ({
      indices: { type: 'int64', dims: [1, values.length], data: BigInt64Array.from(values, (_, k) => BigInt(k + 1)) },
      values: { type: 'float32', dims: [1, values.length], data: Float32Array.from(values) },
    });
    const widths: number[][] = [];
    const run = async (feeds: Feeds): Promise<Outputs> => {
      await new Promise((r) => setTimeout(r, 5));
      const v = feeds['values'];
      if (v === undefined) throw new Error('no values');
      const [rows = 0, w = 0] = v.dims;
      widths.push([rows, w]);
      const data = v.data as Float32Array;
      return {
        y: {
          type: 'float32',
          dims: [rows, 1],
          data: Float32Array.from({ length: rows }, (_, r) =>
            data.subarray(r * w, (r + 1) * w).reduce((a, x) => a + x, 0),
          ),
        },
      };
    };
    const b = new DynamicBatcher({
      maxBatchSize: 8,
      maxQueueDelayMs: 5,
      maxQueueSize: 100,
      stackable: true,
      padInputs: ['indices', 'values'],
      run,
    });
    const inputs = [[1], [1, 2, 3], [4, 5], [0.5, 0.25, 0.125, 0.0625]];
    const outs = await Promise.all(inputs.map((v) => b.run(bag(v))));
    expect(widths).toEqual([[4, 4]]);
    outs.forEach((o, i) =>
      expect(Array.from(o['y']?.data as Float32Array)).toEqual([inputs[i]?.reduce((a, x) => a + x, 0)]),
    );
    const padded = padColumns({ type: 'int64', dims: [2, 1], data: BigInt64Array.from([7n, 9n]) }, 3);
    expect(padded.dims).toEqual([2, 3]);
    expect(Array.from(padded.data as BigInt64Array)).toEqual([7n, 0n, 0n, 9n, 0n, 0n]);
    // Without padding declared, unlike widths never share a run.
    widths.length = 0;
    const strict = new DynamicBatcher({ maxBatchSize: 8, maxQueueDelayMs: 5, maxQueueSize: 100, stackable: true, run });
    await Promise.all(inputs.map((v) => strict.run(bag(v))));
    expect(widths).toHaveLength(4);
  });
});
