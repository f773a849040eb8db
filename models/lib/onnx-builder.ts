/** @module A small typed layer over onnx-proto for building, encoding and decoding ONNX models (Node build tooling). */
import onnxProto from 'onnx-proto';

/** The generated protobuf namespace (onnx-proto is CommonJS: its namespace is a property of the default export). */
export const onnx = onnxProto.onnx;
// Re-exported as types so callers can name protobuf messages without importing onnx-proto themselves.
export type ModelProto = onnxProto.onnx.ModelProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type IGraphProto = onnxProto.onnx.IGraphProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX 1.12's IR version: understood by onnxruntime 1.30 (which reads up to IR 11) and by onnx-proto's schema. */
export const IR_VERSION = 8;
/** Default-domain opset: 17 has everything the recipes need (per-axis DequantizeLinear ≥ 13, LayerNormalization 17). */
export const DEFAULT_OPSET = 17;
/** ai.onnx.ml opset for LinearClassifier / TreeEnsembleClassifier etc. */
export const ML_OPSET = 3;
export const ML_DOMAIN = 'ai.onnx.ml';

const DT = onnxProto.onnx.TensorProto.DataType;

/** Element types the builder writes, by their ORT-web names. */
export type ElemType = 'float32' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool' | 'string' | 'float16';

const ELEM: Record<ElemType, number> = {
  float32: DT.FLOAT,
  int8: DT.INT8,
  uint8: DT.UINT8,
  int32: DT.INT32,
  int64: DT.INT64,
  bool: DT.BOOL,
  string: DT.STRING,
  float16: DT.FLOAT16,
};

/** ONNX DataType code of an element type. */
export function elemTypeCode(t: ElemType): number {
  return ELEM[t];
}

/** Element type name of an ONNX DataType code, or undefined for types the builder does not write. */
export function elemTypeName(code: number): ElemType | undefined {
  for (const [name, c] of Object.entries(ELEM)) if (c === code) return name as ElemType;
  return undefined;
}

/** Typed arrays an initializer can be built from; the array type decides the ONNX element type. */
export type TensorValues = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function typeOfValues(values: TensorValues): ElemType {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Int8Array) return 'int8';
  if (values instanceof Uint8Array) return 'uint8';
  if (values instanceof Int32Array) return 'int32';
  return 'int64';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian bytes of the values (ONNX raw_data is little-endian whatever the host). */
function rawBytes(values: TensorValues): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  // Copy so later edits to the caller's array cannot change an encoded model.
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/** An initializer (constant tensor). Values go into raw_data, the compact encoding ORT reads fastest. */
export function tensor(name: string, values: TensorValues, dims: readonly number[]): ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
  return { name, dataType: ELEM[typeOfValues(values)], dims: [...dims], rawData: rawBytes(values) };
}

/** A scalar int64 or float initializer, handy for shapes and constants. */
export const scalar = {
  float32: (name: string, v: number): ITensorProto => tensor(name, new Float32Array([v]), []),
  int64: (name: string, v: bigint): ITensorProto => tensor(name, new BigInt64Array([v]), []),
};

/** Decoded values of a tensor proto, from raw_data or the typed repeated fields. */
export function tensorValues(t: ITensorProto): TensorValues {
  const count = (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
  const raw = t.rawData;
  const hasRaw = raw !== null && raw !== undefined && raw.length > 0;
  // Copy raw bytes into an own, aligned buffer: decoded fields are views (a Node Buffer's slice shares its pool).
  const buf = hasRaw ? Uint8Array.from(raw).buffer : undefined;
  switch (t.dataType) {
    case DT.FLOAT:
      return buf ? new Float32Array(buf) : Float32Array.from(t.floatData ?? []);
    case DT.INT8:
      return buf ? new Int8Array(buf) : Int8Array.from(t.int32Data ?? []);
    case DT.UINT8:
      return buf ? new Uint8Array(buf) : Uint8Array.from(t.int32Data ?? []);
    case DT.INT32:
      return buf ? new Int32Array(buf) : Int32Array.from(t.int32Data ?? []);
    case DT.INT64:
      return buf ? new BigInt64Array(buf) : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(String(v))));
    default:
      throw new Error(`tensor ${t.name ?? ''}: data type ${t.dataType ?? 'unset'} not supported (count ${count})`);
  }
}

/** Dimensions as plain numbers (protobuf int64 fields decode as Long objects). */
export function tensorDims(t: ITensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(String(d)));
}

/** A node attribute value; the tag makes int vs float explicit, which a plain JS number cannot. */
export type AttrValue =
  | { type: 'int'; value: number | bigint }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'tensor'; value: ITensorProto }
  | { type: 'graph'; value: IGraphProto };

/** Attribute constructors: `node('Gemm', ins, outs, { transB: attr.int(1) })`. */
export const attr = {
  int: (value: number | bigint): AttrValue => ({ type: 'int', value }),
  float: (value: number): AttrValue => ({ type: 'float', value }),
  string: (value: string): AttrValue => ({ type: 'string', value }),
  ints: (value: readonly (number | bigint)[]): AttrValue => ({ type: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ type: 'floats', value }),
  strings: (value: readonly string[]): AttrValue => ({ type: 'strings', value }),
  tensor: (value: ITensorProto): AttrValue => ({ type: 'tensor', value }),
  graph: (value: IGraphProto): AttrValue => ({ type: 'graph', value }),
};

const AT = onnxProto.onnx.AttributeProto.AttributeType;
const utf8 = new TextEncoder();

// int64 attributes go through Number: attribute ints in practice (axes, flags, class ids) are far below 2^53.
function toInt(v: number | bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`attribute int ${String(v)} is not a safe integer`);
  return n;
}

function attributeProto(name: string, a: AttrValue): IAttributeProto {
  switch (a.type) {
    case 'int':
      return { name, type: AT.INT, i: toInt(a.value) };
    case 'float':
      return { name, type: AT.FLOAT, f: a.value };
    case 'string':
      return { name, type: AT.STRING, s: utf8.encode(a.value) };
    case 'ints':
      return { name, type: AT.INTS, ints: a.value.map(toInt) };
    case 'floats':
      return { name, type: AT.FLOATS, floats: [...a.value] };
    case 'strings':
      return { name, type: AT.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case 'tensor':
      return { name, type: AT.TENSOR, t: a.value };
    case 'graph':
      return { name, type: AT.GRAPH, g: a.value };
  }
}

/** A graph node. Attributes are written in key order given, which keeps encodings deterministic. */
export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: Readonly<Record<string, AttrValue>> = {},
  options: { name?: string; domain?: string } = {},
): INodeProto {
  const n: INodeProto = {
    opType,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
  };
  if (options.name !== undefined) n.name = options.name;
  if (options.domain !== undefined && options.domain !== '') n.domain = options.domain;
  return n;
}

/** A graph input/output. String dims are symbolic (e.g. "batch"), numbers fixed. */
export function valueInfo(name: string, elemType: ElemType, shape: readonly (number | string)[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elemType],
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface GraphSpec {
  name: string;
  nodes: readonly INodeProto[];
  inputs: readonly IValueInfoProto[];
  outputs: readonly IValueInfoProto[];
  initializers?: readonly ITensorProto[];
  docString?: string;
}

export function graph(spec: GraphSpec): IGraphProto {
  const g: IGraphProto = {
    name: spec.name,
    node: [...spec.nodes],
    input: [...spec.inputs],
    output: [...spec.outputs],
    initializer: [...(spec.initializers ?? [])],
  };
  if (spec.docString !== undefined) g.docString = spec.docString;
  return g;
}

export interface ModelSpec {
  graph: IGraphProto;
  /** Opset imports; the default domain at DEFAULT_OPSET when omitted. Add `{ domain: ML_DOMAIN, version: ML_OPSET }` for ai.onnx.ml ops. */
  opsets?: readonly { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Free-form metadata (e.g. labels); kept out of timestamps so builds stay byte-identical. */
  metadata?: Readonly<Record<string, string>>;
}

export function model(spec: ModelSpec): IModelProto {
  const opsets = spec.opsets ?? [{ domain: '', version: DEFAULT_OPSET }];
  const m: IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: opsets.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: spec.producerName ?? 'edge-inference/models',
    producerVersion: spec.producerVersion ?? '1',
    graph: spec.graph,
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  if (spec.docString !== undefined) m.docString = spec.docString;
  return m;
}

/** Serialised model bytes (protobuf encoding is deterministic for a given message). */
export function encode(m: IModelProto): Uint8Array {
  const err = onnxProto.onnx.ModelProto.verify(m);
  if (err !== null) throw new Error(`invalid ModelProto: ${err}`);
  const out = onnxProto.onnx.ModelProto.encode(m).finish();
  // protobufjs hands back a Node Buffer on Node: return a plain Uint8Array view so callers see one type everywhere.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function decode(bytes: Uint8Array): ModelProto {
  return onnxProto.onnx.ModelProto.decode(bytes);
}

/** The version a model imports for a domain ('' = default), or undefined. */
export function opsetVersion(m: IModelProto, domain = ''): number | undefined {
  for (const o of m.opsetImport ?? []) if ((o.domain ?? '') === domain) return Number(String(o.version ?? 0));
  return undefined;
}
