/**
 * @module The README answer matcher (test/support/readme-answers.ts) on hand-made cases: each elision form matching
 * what it should and refusing what it should not, closed objects and arrays held to their exact members, line
 * sequences (Server-Sent Events, headers), and a few of the README's own `# →` lines against answers written here.
 */
import { describe, expect, it } from 'vitest';
import { answerMismatches, mismatches, parseLines, parsePattern } from '../support/readme-answers.js';

/** Whether `value` fits the JSON pattern `text`. */
const fits = (text: string, value: unknown): boolean => mismatches(parsePattern(text).pattern, value).length === 0;

describe('JSON answers with … elisions', () => {
  it('compares literals exactly', () => {
    expect(fits('{"label":"positive","score":1}', { label: 'positive', score: 1 })).toBe(true);
    expect(fits('{"label":"positive","score":1}', { label: 'positive', score: 0.999 })).toBe(false);
    expect(fits('{"label":"positive","score":1}', { label: 'negative', score: 1 })).toBe(false);
    expect(fits('[true,false,null,-2.5e3]', [true, false, null, -2500])).toBe(true);
    expect(fits('[true]', [1])).toBe(false);
    expect(fits('"a \\"quoted\\" word"', 'a "quoted" word')).toBe(true);
  });

  it('reads a number ending in … as its leading digits', () => {
    expect(fits('0.98…', 0.98)).toBe(true);
    expect(fits('0.98…', 0.98999)).toBe(true);
    expect(fits('0.98…', 0.99)).toBe(false);
    expect(fits('0.98…', 0.979)).toBe(false);
    expect(fits('0.00001…', 0.0000123)).toBe(true);
    expect(fits('0.00001…', 0.00002)).toBe(false);
    expect(fits('-0.099…', -0.0995)).toBe(true);
    expect(fits('-0.099…', -0.1)).toBe(false);
    expect(fits('-0.099…', -0.098)).toBe(false);
    expect(fits('0.9…', '0.95')).toBe(false);
  });

  it('reads … inside a string as any characters there', () => {
    expect(fits('"key_…"', 'key_AbC-12')).toBe(true);
    expect(fits('"key_…"', 'kex_AbC')).toBe(false);
    expect(fits('"…/v1/jobs/job_…/events"', 'http://127.0.0.1:9/v1/jobs/job_0f/events')).toBe(true);
    expect(fits('"…/v1/jobs/job_…/events"', 'http://127.0.0.1:9/v1/jobs/job_0f')).toBe(false);
    expect(fits('"msg_…_2"', 'msg_abc_2')).toBe(true);
    expect(fits('"msg_…_2"', 'msg_abc_3')).toBe(false);
    // A regular-expression character in the literal part is literal.
    expect(fits('"a.b…"', 'axb')).toBe(false);
  });

  it('reads … as a value as anything, but the key must be there', () => {
    expect(fits('{"created":…,"model":"m"}', { created: 1765000000, model: 'm' })).toBe(true);
    expect(fits('{"created":…,"model":"m"}', { created: { any: 'thing' }, model: 'm' })).toBe(true);
    expect(fits('{"created":…,"model":"m"}', { model: 'm' })).toBe(false);
  });

  it('holds an object without … to exactly its keys, and lets … stand for the others', () => {
    expect(fits('{"a":1,"b":2}', { b: 2, a: 1 })).toBe(true);
    expect(fits('{"a":1,"b":2}', { a: 1, b: 2, c: 3 })).toBe(false);
    expect(fits('{"a":1,"b":2}', { a: 1 })).toBe(false);
    expect(fits('{…,"a":1}', { a: 1, b: 2, c: 3 })).toBe(true);
    expect(fits('{…,"a":1}', { b: 2 })).toBe(false);
    // Elisions beside members without commas, and a note between two …: both as the README writes them.
    expect(fits('{…"delta":{"content":"P"}…}', { id: 'x', delta: { content: 'P' }, n: 1 })).toBe(true);
    expect(fits('{…"delta":{"content":"P"}…}', { id: 'x', delta: { content: 'Q' } })).toBe(false);
    // Run straight into its key, the elision may hide nesting: the member is found at any depth, but only as given.
    expect(fits('{…"delta":{"content":"P"}…}', { choices: [{ index: 0, delta: { content: 'P' } }] })).toBe(true);
    expect(fits('{…"delta":{"content":"P"}…}', { choices: [{ index: 0, delta: { content: 'P', role: 'x' } }] })).toBe(
      false,
    );
    expect(fits('{…,"delta":{"content":"P"}}', { choices: [{ delta: { content: 'P' } }] })).toBe(false);
    expect(fits('{"type":"job.start","data":{…the job…}}', { type: 'job.start', data: { id: 'j' } })).toBe(true);
    expect(fits('{"type":"job.start","data":{…the job…}}', { type: 'job.start', data: [] })).toBe(false);
  });

  it('holds an array without … to its exact elements, and lets … stand for any run of them', () => {
    expect(fits('[1,2]', [1, 2])).toBe(true);
    expect(fits('[1,2]', [1, 2, 3])).toBe(false);
    expect(fits('[1,2]', [2, 1])).toBe(false);
    expect(fits('[1,…]', [1])).toBe(true);
    expect(fits('[1,…]', [1, 7, 8])).toBe(true);
    expect(fits('[1,…]', [2, 1])).toBe(false);
    expect(fits('[1,…,5]', [1, 2, 3, 5])).toBe(true);
    expect(fits('[1,…,5]', [1, 5])).toBe(true);
    expect(fits('[1,…,5]', [1, 2, 3])).toBe(false);
    expect(fits('[…]', [])).toBe(true);
    expect(fits('[…]', {})).toBe(false);
    expect(fits('["…","…","…"]', ['a', 'b', 'c'])).toBe(true);
    expect(fits('["…","…","…"]', ['a', 'b'])).toBe(false);
  });

  it('stops at the end of the pattern: prose after it is not part of the answer', () => {
    const { pattern, end } = parsePattern('{"duration":4.646}   (espeak-ng speech from 0.80 s to 3.65 s)');
    expect(end).toBe('{"duration":4.646}'.length);
    expect(mismatches(pattern, { duration: 4.646 })).toEqual([]);
    expect(() => parsePattern('{"a":1')).toThrow();
    expect(() => parsePattern('["a"')).toThrow();
    expect(() => parsePattern('{"a" 1}')).toThrow(/no ':'/);
  });

  it('names where an answer departs', () => {
    expect(mismatches(parsePattern('{"a":[{"b":"x…"}],"c":0.5…}').pattern, { a: [{ b: 'y' }], c: 0.7 })).toEqual([
      '$.a[0].b: "y", expected "x…"',
      '$.c: 0.7, expected a number starting 0.5…',
    ]);
    expect(answerMismatches('{"a":1}', 'not json')[0]).toMatch(/not JSON/);
  });
});

describe('line answers (Server-Sent Events, headers)', () => {
  it('splits name: value lines at " / " and double spaces, … as any lines, (…) as a note', () => {
    expect(parseLines('id: 1 / event: job.start  data: {"a":1} … (a note) data: [DONE]')).toEqual([
      { name: 'id', value: { kind: 'literal', value: '1' } },
      { name: 'event', value: { kind: 'literal', value: 'job.start' } },
      {
        name: 'data',
        value: {
          kind: 'object',
          members: [{ key: 'a', value: { kind: 'literal', value: 1 }, deep: false }],
          open: false,
        },
      },
      { kind: 'gap' },
      { name: 'data', value: { kind: 'literal', value: '[DONE]' } },
    ]);
  });

  it("matches the README's job event stream, in order, and nothing out of it", () => {
    const answer =
      'id: 1 / event: job.start / data: {"type":"job.start","timestamp":"…","data":{…the job…}} … id: 4 / event: job.completed …';
    const event = (id: number, type: string): string =>
      `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, timestamp: '2026-12-07T00:00:00Z', data: { id: 'job_1' } })}\n\n`;
    const stream = [
      event(1, 'job.start'),
      event(2, 'job.progress'),
      event(3, 'job.output'),
      event(4, 'job.completed'),
    ].join('');
    expect(answerMismatches(answer, stream)).toEqual([]);
    // The completed event numbered otherwise, or the start event missing its fields, no longer fits.
    expect(answerMismatches(answer, stream.replace('id: 4', 'id: 5'))).not.toEqual([]);
    expect(answerMismatches(answer, stream.replace('"timestamp"', '"time"'))).not.toEqual([]);
    expect(answerMismatches(answer, event(2, 'job.progress') + event(4, 'job.completed'))).not.toEqual([]);
  });

  it('compares header lines by name (any case) and value', () => {
    const answer = 'X-Placement: origin / X-Placement-Reason: over the edge limits (batch 20 > max_batch 16)';
    const headers = 'x-placement: origin\r\nx-placement-reason: over the edge limits (batch 20 > max_batch 16)\r\n';
    expect(answerMismatches(answer, headers)).toEqual([]);
    expect(answerMismatches(answer, headers.replace(': origin', ': edge'))).not.toEqual([]);
    expect(answerMismatches(answer, headers.replace('20 > max_batch 16', '17 > max_batch 16'))).not.toEqual([]);
  });
});

describe("the README's own answers", () => {
  it('fits the part-of-speech answer: the first four words, a gap, and the full stop last', () => {
    const answer =
      '[{"entity":"AT","score":0.99…,"index":0,"word":"The","start":0,"end":3},{"entity":"NN",…,"word":"committee",…},' +
      '{"entity":"HVZ",…,"word":"hasn\'t",…},{"entity":"VBN",…,"word":"met",…},…,{"entity":".",…,"word":".",…}]';
    const words: [string, string][] = [
      ['AT', 'The'],
      ['NN', 'committee'],
      ['HVZ', "hasn't"],
      ['VBN', 'met'],
      ['CS', 'since'],
      ['NR', 'Tuesday'],
      ['.', '.'],
    ];
    let at = 0;
    const tokens = words.map(([entity, word], index) => {
      const start = at;
      at += word.length + 1;
      return { entity, score: 0.9931, index, word, start, end: start + word.length };
    });
    expect(answerMismatches(answer, JSON.stringify(tokens))).toEqual([]);
    const wrongTag = tokens.map((t) => (t.word === 'met' ? { ...t, entity: 'VBD' } : t));
    expect(answerMismatches(answer, JSON.stringify(wrongTag))).not.toEqual([]);
    expect(answerMismatches(answer, JSON.stringify(tokens.slice(0, -1)))).not.toEqual([]);
    expect(answerMismatches(answer, JSON.stringify([{ ...tokens[0], score: 0.98 }, ...tokens.slice(1)]))).not.toEqual(
      [],
    );
  });

  it('fits the chat stream: the first chunks, a gap with its note, the last chunks and [DONE]', () => {
    const answer =
      'data: {"id":"chatcmpl-…","object":"chat.completion.chunk",…,"choices":[{"index":0,"delta":{"role":"assistant","content":""},…}]}' +
      '  data: {…"delta":{"content":" "}…}  data: {…"delta":{"content":"P"}…}  …  (" Proce St Southers hand ")' +
      '  data: {…"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}  data: {…"choices":[],"usage":{"prompt_tokens":41,…}}' +
      '  data: [DONE]';
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices, ...extra })}\n\n`;
    const delta = (content: string): string => chunk([{ index: 0, delta: { content }, finish_reason: null }]);
    const stream = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      delta(' '),
      delta('P'),
      delta('roce'),
      chunk([{ index: 0, delta: {}, finish_reason: 'length' }]),
      chunk([], { usage: { prompt_tokens: 41, completion_tokens: 24, total_tokens: 65 } }),
      'data: [DONE]\n\n',
    ].join('');
    expect(answerMismatches(answer, stream)).toEqual([]);
    expect(answerMismatches(answer, stream.replace('"content":"P"', '"content":"Q"'))).not.toEqual([]);
    expect(answerMismatches(answer, stream.replace('data: [DONE]\n\n', ''))).not.toEqual([]);
  });
});
