/**
 * @module Hugging Face text folders in Node: token aggregation against cases worked out by hand from Hugging Face's
 * documented rules (transformers.js has only `simple`, grouped after dropping ignored labels, so it cannot be the
 * oracle here), character offsets as a property over arbitrary text, the task read from config.json, and publish's
 * refusals of folders with a missing or inconsistent file, each naming the file.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenizerJson, vocabulary, writeTinyBertFolder } from '../../models/hf-tiny/bert.js';
import { publishRequest } from '../../scripts/models.js';
import { preparePublish } from '../../scripts/publish.js';
import { encodeWithOffsets, prepareTokenizer } from '../../src/tasks/text/hf-tokenizer.js';
import { aggregate, type PreEntity } from '../../src/tasks/text/token-classification.js';

const root = mkdtempSync(join(tmpdir(), 'hf-text-node-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('aggregation_strategy, by hand from Hugging Face’s rules', () => {
  const LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const label = (i: number): string => LABELS[i] ?? `LABEL_${i}`;
  // WordPiece's convert_tokens_to_string: join with spaces, then glue `##` pieces to the token before.
  const join = (tokens: string[]): string => tokens.join(' ').replaceAll(' ##', '');
  const pre = (word: string, start: number, index: number, isSubword: boolean, scores: number[]): PreEntity => ({
    word,
    start,
    end: start + word.replace(/^##/, '').length,
    index,
    isSubword,
    scores: Float32Array.from(scores),
  });
  // "Wolfgang lives in Berlin" as WordPiece splits it; scores over [O, B-PER, I-PER, B-LOC, I-LOC].
  const sentence = [
    pre('wolf', 0, 1, false, [0.1, 0.7, 0.1, 0.05, 0.05]),
    pre('##gang', 4, 2, true, [0.5, 0.05, 0.4, 0.025, 0.025]),
    pre('lives', 9, 3, false, [0.9, 0.025, 0.025, 0.025, 0.025]),
    pre('in', 15, 4, false, [0.8, 0.05, 0.05, 0.05, 0.05]),
    pre('ber', 18, 5, false, [0.1, 0.3, 0.05, 0.5, 0.05]),
    pre('##lin', 21, 6, true, [0.02, 0.02, 0.9, 0.03, 0.03]),
  ];
  const rounded = <T extends { score: number }>(xs: T[]): T[] =>
    xs.map((x) => ({ ...x, score: Math.round(x.score * 1e6) / 1e6 }));

  it('none: each token’s best label, "O" dropped', () => {
    expect(rounded(aggregate(sentence, 'none', ['O'], label, join))).toEqual([
      { entity: 'B-PER', score: 0.7, index: 1, word: 'wolf', start: 0, end: 4 },
      { entity: 'B-LOC', score: 0.5, index: 5, word: 'ber', start: 18, end: 21 },
      { entity: 'I-PER', score: 0.9, index: 6, word: '##lin', start: 21, end: 24 },
    ]);
  });

  it('simple: per token, I- continues the same tag, anything else starts a group; O groups removed after', () => {
    expect(rounded(aggregate(sentence, 'simple', ['O'], label, join))).toEqual([
      { entity_group: 'PER', score: 0.7, word: 'wolf', start: 0, end: 4 },
      { entity_group: 'LOC', score: 0.5, word: 'ber', start: 18, end: 21 },
      { entity_group: 'PER', score: 0.9, word: '##lin', start: 21, end: 24 },
    ]);
    // B-LOC I-LOC is one entity with the mean score; B-PER O I-PER stays two (the O separates them before it is
    // dropped — where transformers.js, dropping first, would join them).
    const newYork = [
      pre('new', 0, 1, false, [0.1, 0.1, 0.1, 0.6, 0.1]),
      pre('york', 4, 2, false, [0.1, 0.1, 0.1, 0.1, 0.6]),
    ];
    expect(rounded(aggregate(newYork, 'simple', ['O'], label, join))).toEqual([
      { entity_group: 'LOC', score: 0.6, word: 'new york', start: 0, end: 8 },
    ]);
    const split = [
      pre('a', 0, 1, false, [0.1, 0.8, 0.05, 0.025, 0.025]),
      pre('b', 2, 2, false, [0.9, 0.025, 0.025, 0.025, 0.025]),
      pre('c', 4, 3, false, [0.1, 0.1, 0.6, 0.1, 0.1]),
    ];
    const groups = aggregate(split, 'simple', ['O'], label, join);
    expect(groups.map((g) => ['entity_group' in g ? g.entity_group : g.entity, g.word])).toEqual([
      ['PER', 'a'],
      ['PER', 'c'],
    ]);
  });

  it('first: a word takes its first token’s scores', () => {
    expect(rounded(aggregate(sentence, 'first', ['O'], label, join))).toEqual([
      { entity_group: 'PER', score: 0.7, word: 'wolfgang', start: 0, end: 8 },
      { entity_group: 'LOC', score: 0.5, word: 'berlin', start: 18, end: 24 },
    ]);
  });

  it('max: a word takes the scores of its most confident token', () => {
    expect(rounded(aggregate(sentence, 'max', ['O'], label, join))).toEqual([
      { entity_group: 'PER', score: 0.7, word: 'wolfgang', start: 0, end: 8 },
      { entity_group: 'PER', score: 0.9, word: 'berlin', start: 18, end: 24 },
    ]);
  });

  it('average: a word takes the mean of its tokens’ scores', () => {
    // wolfgang: B-PER (0.7 + 0.05) / 2 = 0.375 beats O 0.3; berlin: I-PER (0.05 + 0.9) / 2 = 0.475 beats B-LOC 0.265.
    expect(rounded(aggregate(sentence, 'average', ['O'], label, join))).toEqual([
      { entity_group: 'PER', score: 0.375, word: 'wolfgang', start: 0, end: 8 },
      { entity_group: 'PER', score: 0.475, word: 'berlin', start: 18, end: 24 },
    ]);
  });

  it('ignore_labels: [] keeps the O groups', () => {
    const groups = aggregate(sentence, 'first', [], label, join);
    expect(groups.map((g) => ('entity_group' in g ? g.entity_group : ''))).toEqual(['PER', 'O', 'LOC']);
  });
});

describe('character offsets', () => {
  const json = tokenizerJson(vocabulary());
  const loaded = prepareTokenizer(json, {});
  const normalize = (s: string): string => loaded.tokenizer.normalizer?.normalize(s) ?? s;
  const alphabet = fc.constantFrom(
    ...'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ  .,!?;:\'"()-éèüñçÅÉ東京日本語😀\t\n0123456789'.split(''),
  );

  it('every token points at its own characters, in order, for arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 80 }).map((cs) => cs.join('')),
        (text) => {
          const spans = encodeWithOffsets(loaded, text);
          let previousEnd = 0;
          for (const s of spans) {
            expect(s.start).toBeGreaterThanOrEqual(previousEnd);
            expect(s.end).toBeGreaterThan(s.start);
            expect(s.end).toBeLessThanOrEqual(text.length);
            previousEnd = s.end;
            // A known token is the normalised form of the characters it points at (the library's normaliser).
            if (s.token !== '[UNK]')
              expect(normalize(text.slice(s.start, s.end)).trim()).toBe(s.token.replace(/^##/, ''));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a Hugging Face folder', () => {
  const folder = (name: string, options: Parameters<typeof writeTinyBertFolder>[1]): string =>
    writeTinyBertFolder(join(root, name), options);
  const prepare = (dir: string, task?: string) =>
    preparePublish(dir, { id: 'x', version: '1', log: () => undefined, ...(task === undefined ? {} : { task }) });
  const editJson = (path: string, edit: (v: Record<string, unknown>) => void): void => {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(v);
    writeFileSync(path, JSON.stringify(v));
  };

  it('names its task through config.json (no --task), and --task overrides it', async () => {
    const ner = folder('ner', { head: 'token-classification', labels: ['O', 'B-PER', 'I-PER'] });
    const prepared = await prepare(ner);
    expect(prepared.manifest.task).toBe('token-classification');
    expect(prepared.manifest.labels).toEqual(['O', 'B-PER', 'I-PER']);
    expect(prepared.manifest.preprocess).toMatchObject({ kind: 'hf-tokenizer', max_length: 128, pad_token_id: 0 });
    expect(prepared.files.map((f) => f.name).sort()).toEqual([
      'config.json',
      'model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const request = publishRequest(ner, { id: 'x' });
    expect('usage' in request).toBe(false);
    const nli = folder('nli-as-cls', {
      head: 'sequence-classification',
      labels: ['contradiction', 'neutral', 'entailment'],
    });
    expect((await prepare(nli)).manifest.task).toBe('zero-shot-classification');
    expect((await prepare(nli, 'text-classification')).manifest.task).toBe('text-classification');
  });

  it('refuses a folder with a missing or inconsistent file, naming it', async () => {
    const cases: [string, (dir: string) => void, RegExp, string?][] = [
      ['no-tokenizer', (d) => unlinkSync(join(d, 'tokenizer.json')), /tokenizer\.json is missing/],
      ['bad-config', (d) => writeFileSync(join(d, 'config.json'), '{ not json'), /config\.json is not valid JSON/],
      [
        'no-model-type',
        (d) => editJson(join(d, 'config.json'), (c) => delete c['model_type']),
        /config\.json: model_type/,
      ],
      [
        'label-count',
        (d) =>
          editJson(join(d, 'config.json'), (c) => {
            c['id2label'] = { 0: 'O', 1: 'B-PER' };
            c['label2id'] = { O: 0, 'B-PER': 1 };
          }),
        /config\.json: id2label has 2 labels but model\.onnx's logits have 3 columns/,
      ],
      [
        'label2id',
        (d) => editJson(join(d, 'config.json'), (c) => (c['label2id'] = { O: 1, 'B-PER': 0, 'I-PER': 2 })),
        /config\.json: label2id says O is 1/,
      ],
      [
        'vocab',
        (d) => editJson(join(d, 'config.json'), (c) => (c['vocab_size'] = 100)),
        /tokenizer\.json has \d+ tokens but config\.json's vocab_size is 100/,
      ],
      [
        'tok-config',
        (d) => writeFileSync(join(d, 'tokenizer_config.json'), '[1, 2]'),
        /tokenizer_config\.json must hold a JSON object/,
      ],
      [
        'no-onnx',
        (d) => unlinkSync(join(d, 'model.onnx')),
        /no model\.onnx \(or onnx\/model\.onnx, decoder_model_merged\.onnx\) beside config\.json/,
      ],
      ['not-nli', () => undefined, /label2id names "entailment"/, 'zero-shot-classification'],
      ['not-qa', () => undefined, /question-answering models answer start_logits/, 'question-answering'],
    ];
    for (const [name, breakIt, message, task] of cases) {
      const dir = folder(`broken-${name}`, { head: 'token-classification', labels: ['O', 'B-PER', 'I-PER'] });
      breakIt(dir);
      await expect(prepare(dir, task), name).rejects.toThrow(message);
    }
  });

  it('serves the graph from transformers.js’s layout (onnx/model.onnx) too', async () => {
    const dir = folder('tjs-layout', { head: 'question-answering' });
    cpSync(join(dir, 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
    unlinkSync(join(dir, 'model.onnx'));
    const prepared = await prepare(dir);
    expect(prepared.manifest.task).toBe('question-answering');
    expect(prepared.manifest.outputs.map((o) => o.name)).toEqual(['start_logits', 'end_logits']);
  });
});
