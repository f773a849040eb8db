/**
 * @module Silero VAD's graph without its sample-rate `If`: the published graph computes `sr == 16000` and runs one of
 * two 113-node branches. The edge always feeds 16 kHz, so the 16 kHz branch can be the main graph. That lets ORT
 * optimise across what was a subgraph boundary and lets the shared quantizer see the Conv weights (it does not enter
 * subgraphs). `sr` stays a declared input, unused, so callers feed the same three tensors.
 */
import { decode, encode, type INodeProto } from '../lib/onnx-builder.js';

export function inlineSampleRateBranch(
  bytes: Uint8Array,
  branch: 'then_branch' | 'else_branch' = 'then_branch',
): Uint8Array {
  const m = decode(bytes);
  const g = m.graph;
  if (g === null || g === undefined) throw new Error('model has no graph');
  const nodes: INodeProto[] = g.node ?? [];
  const iff = nodes.find((n) => n.opType === 'If');
  if (iff === undefined) throw new Error('no If node: not the Silero v5 layout this expects');
  const sub = (iff.attribute ?? []).find((a) => a.name === branch)?.g;
  if (sub === null || sub === undefined) throw new Error(`If has no ${branch}`);
  // The condition chain (Constant 16000 → Equal(sr, ·) → If) goes; so does the If. Everything else stays.
  const condition = iff.input?.[0];
  const ifOutputs = iff.output ?? [];
  const equal = nodes.find((n) => (n.output ?? []).includes(condition ?? ''));
  const constants = nodes.filter(
    (n) => n.opType === 'Constant' && (n.output ?? []).some((o) => (equal?.input ?? []).includes(o)),
  );
  const dropped = new Set<INodeProto>([iff, ...(equal === undefined ? [] : [equal]), ...constants]);
  // Route the branch's outputs to the names the If produced (the Identity nodes named output/stateN read them).
  const bridges: INodeProto[] = (sub.output ?? []).map((o, i) => ({
    opType: 'Identity',
    input: [o.name ?? ''],
    output: [ifOutputs[i] ?? ''],
    name: `inlined_${ifOutputs[i] ?? i}`,
  }));
  g.node = [...(sub.node ?? []), ...bridges, ...nodes.filter((n) => !dropped.has(n))] as typeof g.node;
  g.initializer = [...(g.initializer ?? []), ...(sub.initializer ?? [])] as typeof g.initializer;
  return encode(m);
}
