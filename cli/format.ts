/**
 * @module Human-readable output: aligned tables, label scores as rows with small bars, and prediction outputs by
 * shape (labels, explanations, speech segments; anything else as JSON). `--json` bypasses all of this.
 */

/** Pads each column to its widest cell; the header row is the first. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  // trimEnd: an empty last cell (a zero-score bar) leaves no trailing blanks.
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const BAR_WIDTH = 24;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `fraction` (0…1) of BAR_WIDTH cells, in eighths of a cell. */
export function bar(fraction: number): string {
  const eighths = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] ?? '');
}

export interface LabelScore {
  label: string;
  score: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isLabelScores(v: unknown): v is LabelScore[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((x) => isRecord(x) && typeof x['label'] === 'string' && typeof x['score'] === 'number')
  );
}

/** Rows of `label  0.9876  ████…`, in the API's order (best first). */
export function labelRows(scores: readonly LabelScore[]): string {
  return table(scores.map((s) => [s.label, s.score.toFixed(4), bar(s.score)]));
}

function explanation(v: Record<string, unknown>): string | undefined {
  const labels = v['labels'];
  const attributions = v['attributions'];
  if (!isLabelScores(labels) || !Array.isArray(attributions)) return undefined;
  const rows = attributions
    .filter((a): a is { token: string; weight: number } => isRecord(a) && typeof a['token'] === 'string')
    .map((a) => [a.token, a.weight >= 0 ? `+${a.weight.toFixed(4)}` : a.weight.toFixed(4)]);
  return `${labelRows(labels)}\n\nattributions (token, weight toward ${labels[0]?.label ?? 'the top label'}):\n${table(rows)}`;
}

function segments(v: Record<string, unknown>): string | undefined {
  const duration = v['duration'];
  const list = v['segments'];
  if (typeof duration !== 'number' || !Array.isArray(list)) return undefined;
  const rows = list
    .filter((s): s is { start: number; end: number } => isRecord(s) && typeof s['start'] === 'number')
    .map((s) => [`${s.start.toFixed(2)} s`, '→', `${s.end.toFixed(2)} s`]);
  const head = `${rows.length} speech segment${rows.length === 1 ? '' : 's'} in ${duration.toFixed(2)} s of audio`;
  return rows.length === 0 ? head : `${head}\n${table(rows)}`;
}

/** One task output (not a batch) for people. */
function single(output: unknown): string {
  if (isLabelScores(output)) return labelRows(output);
  if (isRecord(output)) {
    const text = explanation(output) ?? segments(output);
    if (text !== undefined) return text;
  }
  // A vector (feature-extraction) on one line; anything else as indented JSON.
  if (Array.isArray(output) && output.every((x) => typeof x === 'number')) return JSON.stringify(output);
  return JSON.stringify(output, null, 2);
}

/** A prediction for people: a batch (list input) shows each output under its index. */
export function prediction(output: unknown): string {
  const isBatch = Array.isArray(output) && output.length > 0 && output.every((o) => Array.isArray(o) || isRecord(o));
  if (!isBatch || isLabelScores(output)) return single(output);
  return output.map((o, i) => `[${i}]\n${single(o)}`).join('\n\n');
}

/** The prediction headers worth seeing, for the footer on stderr. */
export function predictionFooter(headers: Headers): string {
  const parts = ['X-Model', 'X-Placement', 'X-Cache']
    .map((h) => {
      const v = headers.get(h);
      if (v === null) return undefined;
      const reason = h === 'X-Placement' ? headers.get('X-Placement-Reason') : null;
      return `${h}: ${v}${reason === null ? '' : ` (${reason})`}`;
    })
    .filter((p) => p !== undefined);
  return parts.join('  ');
}

/** Bytes as people read them. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** `key: value` lines, keys aligned; undefined values are left out. */
export function fields(entries: readonly (readonly [string, string | undefined])[]): string {
  const shown = entries.filter((e): e is readonly [string, string] => e[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n');
}
