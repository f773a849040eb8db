/**
 * @module The README's `# →` answer lines as checks: a small pattern language and its matcher, so an example's printed
 * answer can be compared with what the service really printed. An answer that starts with `{`, `[` or `"` is JSON with
 * `…` elisions; any other is a sequence of `name: value` lines (Server-Sent Events, headers) separated by ` / ` or two
 * spaces. Prose after the pattern (`(espeak-ng speech from …)`, `verify with …`) is the reader's, not the matcher's.
 *
 * Elisions, as the README writes them:
 * - `…` alone where a value goes (`"created":…`): any value, but the key must be there;
 * - `…` inside a string (`"key_…"`, `"…/v1/jobs/job_…"`): any characters there;
 * - a number ending in `…` (`0.98…`, `-0.099…`): any number whose decimal expansion starts with those digits;
 * - `…` as an array element: any number of elements (none included) at that place;
 * - `…` as an object member: the object may hold other keys; an object without one must hold exactly its keys;
 *   run straight into a key (`{…"delta":{"content":"P"}…}`, no comma), the elided text may hide nesting too, and that
 *   member may be found at any depth;
 * - in a line sequence, `…` alone: any number of lines; `(…)` between lines: a note, skipped.
 * A `…` followed by words up to another `…` (`{…the job…}`) is one elision with a note in it. Everything else is
 * literal: numbers and strings compare exactly, which is what keeps a deterministic answer from drifting.
 */

export type Pattern =
  | { kind: 'any' }
  | { kind: 'literal'; value: string | number | boolean | null }
  /** A number's leading digits, as written (`0.98`, `-0.099`). */
  | { kind: 'prefix'; digits: string }
  /** A string's literal parts, with anything between them. */
  | { kind: 'glob'; parts: string[] }
  | { kind: 'array'; items: (Pattern | Gap)[] }
  /** Members by key; a `deep` one may sit at any depth below (an elision run straight into its key). */
  | { kind: 'object'; members: Member[]; open: boolean };

export interface Member {
  key: string;
  value: Pattern;
  deep: boolean;
}

interface Gap {
  kind: 'gap';
}

const ELLIPSIS = '…';

class Reader {
  i = 0;
  constructor(readonly text: string) {}

  peek(): string {
    return this.text[this.i] ?? '';
  }

  skipSpace(): void {
    while (/\s/.test(this.peek())) this.i++;
  }

  fail(what: string): never {
    throw new Error(
      `${what} at ${this.i} in ${JSON.stringify(this.text.slice(Math.max(0, this.i - 30), this.i + 30))}`,
    );
  }

  /** After a member or element: an optional comma. */
  comma(): void {
    this.skipSpace();
    if (this.peek() === ',') this.i++;
  }

  /** An elision at the reader (`…`, or `…words…` with a note in it); true when one was read. */
  elision(closers: string): boolean {
    if (this.peek() !== ELLIPSIS) return false;
    this.i++;
    const next = this.peek();
    if (next !== '' && !closers.includes(next) && !/[\s,"{[]/.test(next)) {
      const end = this.text.indexOf(ELLIPSIS, this.i);
      if (end < 0) this.fail('a note after … has no closing …');
      this.i = end + 1;
    }
    return true;
  }

  string(): string {
    // A JSON string literal: find its end, respecting escapes, and let JSON decode it.
    const start = this.i;
    this.i++;
    while (this.i < this.text.length && this.peek() !== '"') this.i += this.peek() === '\\' ? 2 : 1;
    if (this.peek() !== '"') this.fail('unterminated string');
    this.i++;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }

  value(): Pattern {
    this.skipSpace();
    const c = this.peek();
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') {
      const s = this.string();
      return s.includes(ELLIPSIS) ? { kind: 'glob', parts: s.split(ELLIPSIS) } : { kind: 'literal', value: s };
    }
    if (c === ELLIPSIS) {
      this.elision('}],');
      return { kind: 'any' };
    }
    const number = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(this.i));
    if (number !== null) {
      this.i += number[0].length;
      if (this.peek() === ELLIPSIS) {
        this.i++;
        return { kind: 'prefix', digits: number[0] };
      }
      return { kind: 'literal', value: Number(number[0]) };
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return { kind: 'literal', value };
      }
    }
    return this.fail('no value');
  }

  object(): Pattern {
    this.i++;
    const members: Member[] = [];
    let open = false;
    for (;;) {
      this.skipSpace();
      if (this.peek() === '}') {
        this.i++;
        return { kind: 'object', members, open };
      }
      if (this.elision('},"')) {
        open = true;
        // `{…"delta":…}`: the elided text runs into the key, so it may hide nesting; the member is searched deep.
        if (this.peek() === '"') members.push(this.member(true));
      } else if (this.peek() === '"') members.push(this.member(false));
      else this.fail('no member');
      this.comma();
    }
  }

  member(deep: boolean): Member {
    const key = this.string();
    this.skipSpace();
    if (this.peek() !== ':') this.fail(`no ':' after key ${key}`);
    this.i++;
    return { key, value: this.value(), deep };
  }

  array(): Pattern {
    this.i++;
    const items: (Pattern | Gap)[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === ']') {
        this.i++;
        return { kind: 'array', items };
      }
      if (this.peek() === '') this.fail('unterminated array');
      if (this.elision('],')) items.push({ kind: 'gap' });
      else items.push(this.value());
      this.comma();
    }
  }
}

/** A JSON pattern from the start of `text`, and where it ends (what follows is prose). */
export function parsePattern(text: string): { pattern: Pattern; end: number } {
  const r = new Reader(text);
  const pattern = r.value();
  return { pattern, end: r.i };
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `value` is a number whose decimal expansion starts with `digits` (`0.98` → [0.98, 0.99)). */
function hasPrefix(digits: string, value: number): boolean {
  const decimals = digits.split('.')[1]?.length ?? 0;
  const step = 10 ** -decimals;
  const p = Number(digits);
  // A little slack for binary rounding at the interval's ends (0.98 + 0.01 is not exactly 0.99).
  const eps = step * 1e-9;
  return digits.startsWith('-')
    ? value <= p + eps && value > p - step + eps
    : value >= p - eps && value < p + step - eps;
}

/** Where `value` departs from `pattern` (empty when it matches), each as `path: what`. */
export function mismatches(pattern: Pattern, value: unknown, path = '$'): string[] {
  switch (pattern.kind) {
    case 'any':
      return value === undefined ? [`${path}: missing`] : [];
    case 'literal':
      return value === pattern.value ? [] : [`${path}: ${show(value)}, expected ${show(pattern.value)}`];
    case 'prefix':
      return typeof value === 'number' && hasPrefix(pattern.digits, value)
        ? []
        : [`${path}: ${show(value)}, expected a number starting ${pattern.digits}…`];
    case 'glob': {
      const re = new RegExp(`^${pattern.parts.map(escapeRegExp).join('[\\s\\S]*')}$`);
      return typeof value === 'string' && re.test(value)
        ? []
        : [`${path}: ${show(value)}, expected ${show(pattern.parts.join(ELLIPSIS))}`];
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return [`${path}: ${show(value)}, expected an object`];
      const record = value as Record<string, unknown>;
      const out = pattern.members.flatMap(({ key, value: p, deep }) => {
        if (deep)
          return holders(record, key).some((h) => mismatches(p, h[key]).length === 0)
            ? []
            : [`${path}…${key}: no ${show(key)} at any depth fits`];
        return key in record ? mismatches(p, record[key], `${path}.${key}`) : [`${path}.${key}: missing`];
      });
      if (!pattern.open) {
        const known = new Set(pattern.members.map((m) => m.key));
        for (const k of Object.keys(record)) if (!known.has(k)) out.push(`${path}.${k}: not in the README's answer`);
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: ${show(value)}, expected an array`];
      const items = pattern.items;
      if (!items.some((x) => x.kind === 'gap')) {
        // No elision: element by element, so a failure names the element.
        const out = items.flatMap((p, k) => (p.kind === 'gap' ? [] : mismatches(p, value[k], `${path}[${k}]`)));
        if (value.length !== items.length) out.push(`${path}: ${value.length} elements, expected ${items.length}`);
        return out;
      }
      return align(items, value, (p, v) => mismatches(p, v).length === 0)
        ? []
        : [`${path}: ${show(value)} does not fit ${show(items.map((x) => (x.kind === 'gap' ? ELLIPSIS : x)))}`];
    }
  }
}

/** `record` and every object below it (through objects and arrays) that has `key`. */
function holders(record: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) {
      const r = v as Record<string, unknown>;
      if (key in r) out.push(r);
      Object.values(r).forEach(visit);
    }
  };
  visit(record);
  return out;
}

/** Whether `values` can be laid out on `items`, each gap taking any run of values (none included). */
function align<P, V>(items: readonly (P | Gap)[], values: readonly V[], fits: (p: P, v: V) => boolean): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    let ok: boolean;
    const item = items[i];
    if (item === undefined) ok = j === values.length;
    else if (isGap(item)) ok = go(i + 1, j) || (j < values.length && go(i, j + 1));
    else ok = j < values.length && fits(item, values[j] as V) && go(i + 1, j + 1);
    memo.set(key, ok);
    return ok;
  };
  return go(0, 0);
}

function isGap(x: unknown): x is Gap {
  return typeof x === 'object' && x !== null && 'kind' in x && x.kind === 'gap';
}

/** One expected line: its field or header name and its value (a JSON pattern, or text with `…` wildcards). */
interface LinePattern {
  name: string;
  value: Pattern;
}

/** A line-sequence answer (`id: 1 / event: job.start / data: {…} … id: 4`) as its lines and gaps. */
export function parseLines(text: string): (LinePattern | Gap)[] {
  const out: (LinePattern | Gap)[] = [];
  let i = 0;
  const rest = (): string => text.slice(i);
  for (;;) {
    while (i < text.length && /[\s/]/.test(text[i] ?? '')) i++;
    if (i >= text.length) return out;
    if (text[i] === ELLIPSIS) {
      out.push({ kind: 'gap' });
      i++;
      continue;
    }
    if (text[i] === '(') {
      // A note in parentheses, balanced.
      let depth = 0;
      do {
        if (text[i] === '(') depth++;
        else if (text[i] === ')') depth--;
        i++;
      } while (depth > 0 && i < text.length);
      continue;
    }
    const name = /^([A-Za-z][\w-]*):[ ]?/.exec(rest());
    if (name === null) throw new Error(`no 'name: value' at ${JSON.stringify(rest().slice(0, 40))}`);
    i += name[0].length;
    if (text[i] === '{') {
      const { pattern, end } = parsePattern(rest());
      out.push({ name: name[1] ?? '', value: pattern });
      i += end;
      continue;
    }
    // Text runs to the next separator: ' / ', two spaces, or a gap.
    const stop = /( \/ | {2}| … ?|$)/.exec(rest());
    const length = stop?.index ?? rest().length;
    const value = rest().slice(0, length).trim();
    out.push({
      name: name[1] ?? '',
      value: value.includes(ELLIPSIS) ? { kind: 'glob', parts: value.split(ELLIPSIS) } : { kind: 'literal', value },
    });
    i += length;
  }
}

/** An actual line's value, as a JSON pattern wants it (parsed) or a text one does (as is). */
function lineFits(p: LinePattern, line: string): boolean {
  const colon = line.indexOf(':');
  if (colon < 0 || line.slice(0, colon).toLowerCase() !== p.name.toLowerCase()) return false;
  const raw = line.slice(colon + 1).replace(/^ /, '');
  if (p.value.kind === 'object' || p.value.kind === 'array') {
    try {
      return mismatches(p.value, JSON.parse(raw)).length === 0;
    } catch {
      return false;
    }
  }
  return mismatches(p.value, raw.trim()).length === 0;
}

/**
 * Where an example's printed output departs from its README answer (empty when it matches): JSON answers against the
 * output parsed as JSON, line answers against the output's non-empty lines.
 */
export function answerMismatches(expected: string, output: string): string[] {
  const text = expected.trim();
  if (/^[{["]/.test(text)) {
    const { pattern } = parsePattern(text);
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      return [`the output is not JSON: ${show(output.slice(0, 200))}`];
    }
    return mismatches(pattern, value);
  }
  const lines = output
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
  const items = parseLines(text);
  if (items.length === 0) return ['the answer has no lines'];
  return align(items, lines, lineFits) ? [] : [`the lines ${show(lines)} do not fit ${show(text)}`];
}
