/** @module `edge-infer models list` (a table) and `models show MODEL` (the card), through the typed client. */
import { apiClient, resolveTarget, send, type GlobalOptions } from '../client.js';
import { bytes, fields, table } from '../format.js';
import type { Io } from '../io.js';

export async function listModels(io: Io, options: GlobalOptions): Promise<void> {
  const target = resolveTarget(options, io.env);
  const res = await send(target, () => apiClient(target).v1.models.$get());
  if (options.json === true) {
    io.out(await res.text());
    return;
  }
  const { data } = await res.json();
  if (data.length === 0) {
    io.out('no models (or none this key may call)');
    return;
  }
  const rows = data.map((m) => [
    m.id,
    m.version,
    m.task,
    m.quantization.type === 'int8' ? `int8 ${m.quantization.method}` : m.quantization.type,
    m.accuracy === null ? '-' : m.accuracy.toFixed(4),
  ]);
  io.out(table([['ID', 'VERSION', 'TASK', 'QUANTIZATION', 'ACCURACY'], ...rows]));
}

const tensors = (ts: readonly { name: string; dtype: string; shape: (number | string)[] }[]): string =>
  ts.map((t) => `${t.name} ${t.dtype}[${t.shape.join(', ')}]`).join('; ');

const record = (r: Record<string, unknown>): string | undefined => {
  const entries = Object.entries(r);
  return entries.length === 0 ? undefined : entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
};

export async function showModel(io: Io, model: string, options: GlobalOptions): Promise<void> {
  const target = resolveTarget(options, io.env);
  const res = await send(target, () => apiClient(target).v1.models[':model'].$get({ param: { model } }));
  if (options.json === true) {
    io.out(await res.text());
    return;
  }
  const m = await res.json();
  const q = m.quantization;
  io.out(
    fields([
      ['model', `${m.id}@${m.version}`],
      ['task', m.task],
      ['description', m.description],
      ['license', m.license],
      ['source', record(m.source)],
      ['size', bytes(m.size_bytes)],
      ['quantization', `${q.type} (${q.method})${q.reason === undefined ? '' : `: ${q.reason}`}`],
      ['accuracy', m.accuracy === null ? undefined : m.accuracy.toFixed(4)],
      ['edge p50', m.edge_latency_ms_p50 === null ? undefined : `${m.edge_latency_ms_p50} ms`],
      ['placement', m.placement],
      ['edge limits', record(m.edge_limits)],
      ['labels', m.labels?.join(', ')],
      ['inputs', tensors(m.inputs)],
      ['outputs', tensors(m.outputs)],
      ['metrics', record(m.metrics)],
      ['created', m.created_at],
    ]),
  );
}
