/**
 * @module Evaluation on labelled data inside workerd: sentiment-en's 600 held-out sentences (the build's own split,
 * with their source corpus as the group) through `POST /v1/models/{id}/evaluate`. Oracles: the accuracy and macro-F1
 * the build measured on the same split with onnxruntime-node (in the manifest), and every count recomputed here from
 * the service's own `/predict` answers (confusion matrix, log loss, per-group positive and true-positive rates).
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ManifestSchema, r2Keys } from '../../src/lib/manifest.js';
import { json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

interface Report {
  object: string;
  model: string;
  n: number;
  labels: string[];
  accuracy: number;
  macro_f1: number;
  log_loss: number;
  brier: number;
  confusion_matrix: { labels: string[]; matrix: number[][] };
  per_class: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  calibration: { ece: number; bins: { count: number }[] };
  intervals: { accuracy: { lower: number; upper: number }; macro_f1: { lower: number; upper: number } };
  groups?: Record<string, { examples: number; accuracy: number }>;
  fairness?: {
    positive_label: string;
    demographic_parity_difference: number;
    equal_opportunity_difference: number | null;
    groups: Record<string, { positive_rate: number; true_positive_rate: number | null }>;
  };
  failures: { index: number; error: { code: string; message: string } }[];
}

interface Comparison {
  n: number;
  reports: Report[];
  pairs: { a: string; b_model: string; b: number; c: number; p_value: number; better: string | null }[];
}

const EVALUATE = '/v1/models/sentiment-en/evaluate';
/** A copy of sentiment-en whose manifest names a third label: same outputs, another label set. */
const RELABELLED = 'sentiment-three';

function built(id: string) {
  const m = inject('models').find((x) => x.id === id);
  if (m === undefined) throw new Error(`${id} was not built`);
  return { model: m, manifest: ManifestSchema.parse(JSON.parse(m.manifestText)) };
}

const heldout = inject('references').sentiment.heldout as { text: string; label: string; group?: string }[];
const examples = heldout.map((e) => ({ inputs: e.text, label: e.label, ...(e.group ? { group: e.group } : {}) }));

beforeAll(async () => {
  await seedModels();
  const { model } = built('sentiment-en');
  const manifest: Record<string, unknown> = {
    ...(JSON.parse(model.manifestText) as Record<string, unknown>),
    id: RELABELLED,
  };
  manifest['labels'] = ['negative', 'positive', 'neutral'];
  for (const [name, b64] of Object.entries(model.files))
    await env.MODELS.put(r2Keys.file(RELABELLED, model.version, name), base64Bytes(b64));
  await env.MODELS.put(r2Keys.manifest(RELABELLED, model.version), JSON.stringify(manifest));
  await env.MODELS.put(r2Keys.latest(RELABELLED), model.version);
});

/** The service's own answers, one predict call per 64 texts: what the report must be counting. */
async function predictAll(): Promise<{ label: string; score: number }[][]> {
  const out: { label: string; score: number }[][] = [];
  for (let i = 0; i < heldout.length; i += 64) {
    const res = await postJson('/v1/models/sentiment-en/predict', {
      inputs: heldout.slice(i, i + 64).map((e) => e.text),
    });
    expect(res.status).toBe(200);
    out.push(...(await json<{ label: string; score: number }[][]>(res)));
  }
  return out;
}

describe('POST /v1/models/{id}/evaluate', () => {
  it("reproduces the build's held-out accuracy and counts what /predict answers", async () => {
    const { manifest } = built('sentiment-en');
    expect(heldout).toHaveLength(600);
    expect(new Set(heldout.map((e) => e.group)).size).toBeGreaterThan(1);
    const res = await postJson(EVALUATE, { examples, parameters: { seed: 7 } });
    expect(res.status).toBe(200);
    const report = await json<Report>(res);
    expect(report.model).toBe(`sentiment-en@${manifest.version}`);
    expect(report.n).toBe(600);
    expect(report.failures).toEqual([]);
    // onnxruntime-node's figures from the build, on the same split (rounded to 4 places there).
    expect(Math.abs(report.accuracy - Number(manifest.metrics['accuracy']))).toBeLessThan(6e-5);
    expect(Math.abs(report.macro_f1 - Number(manifest.metrics['macro_f1']))).toBeLessThan(6e-5);

    const answers = await predictAll();
    expect(answers).toHaveLength(600);
    const labels = ['negative', 'positive'];
    expect(report.confusion_matrix.labels).toEqual(labels);
    const matrix = labels.map(() => labels.map(() => 0));
    let logLoss = 0;
    const byGroup = new Map<
      string,
      { n: number; predictedPositive: number; positives: number; truePositives: number }
    >();
    answers.forEach((answer, i) => {
      const gold = heldout[i]?.label ?? '';
      const predicted = answer[0]?.label ?? '';
      const row = matrix[labels.indexOf(gold)];
      if (row !== undefined) row[labels.indexOf(predicted)] = (row[labels.indexOf(predicted)] ?? 0) + 1;
      const pTrue = answer.find((a) => a.label === gold)?.score ?? 0;
      logLoss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, pTrue)));
      const group = heldout[i]?.group ?? '';
      const g = byGroup.get(group) ?? { n: 0, predictedPositive: 0, positives: 0, truePositives: 0 };
      g.n += 1;
      if (predicted === 'positive') g.predictedPositive += 1;
      if (gold === 'positive') g.positives += 1;
      if (gold === 'positive' && predicted === 'positive') g.truePositives += 1;
      byGroup.set(group, g);
    });
    expect(report.confusion_matrix.matrix).toEqual(matrix);
    expect(report.log_loss).toBeCloseTo(logLoss / 600, 4);
    const correct = (matrix[0]?.[0] ?? 0) + (matrix[1]?.[1] ?? 0);
    expect(report.accuracy).toBeCloseTo(correct / 600, 12);
    expect(report.per_class['positive']?.support).toBe((matrix[1]?.[0] ?? 0) + (matrix[1]?.[1] ?? 0));
    expect(report.calibration.bins).toHaveLength(10);
    expect(report.calibration.bins.reduce((n, b) => n + b.count, 0)).toBe(600);

    // Fairness for the binary model's second label, by corpus.
    const fairness = report.fairness;
    expect(fairness?.positive_label).toBe('positive');
    const rates = [...byGroup.values()].map((g) => g.predictedPositive / g.n);
    const tprs = [...byGroup.values()].filter((g) => g.positives > 0).map((g) => g.truePositives / g.positives);
    expect(rates.length).toBeGreaterThan(1);
    expect(fairness?.demographic_parity_difference).toBeCloseTo(Math.max(...rates) - Math.min(...rates), 12);
    expect(fairness?.equal_opportunity_difference).toBeCloseTo(Math.max(...tprs) - Math.min(...tprs), 12);
    for (const [group, g] of byGroup) {
      expect(report.groups?.[group]?.examples).toBe(g.n);
      expect(fairness?.groups[group]?.positive_rate).toBeCloseTo(g.predictedPositive / g.n, 12);
    }

    // The interval brackets the estimate, and the same seed gives the same interval.
    expect(report.intervals.accuracy.lower).toBeLessThanOrEqual(report.accuracy);
    expect(report.intervals.accuracy.upper).toBeGreaterThanOrEqual(report.accuracy);
    expect(report.intervals.accuracy.upper - report.intervals.accuracy.lower).toBeGreaterThan(0);
    const again = await json<Report>(await postJson(EVALUATE, { examples, parameters: { seed: 7 } }));
    expect(again.intervals).toEqual(report.intervals);
  });

  it('reports the examples the model cannot run, by index, and scores the rest', async () => {
    const mixed = [
      ...examples.slice(0, 5),
      { inputs: 42, label: 'positive' },
      ...examples.slice(5, 9),
      { inputs: 'x'.repeat(5000), label: 'negative' },
    ];
    const res = await postJson(EVALUATE, { examples: mixed });
    expect(res.status).toBe(200);
    const report = await json<Report>(res);
    expect(report.n).toBe(9);
    expect(report.failures.map((f) => f.index)).toEqual([5, 10]);
    for (const f of report.failures) {
      expect(f.error.code).toBe('invalid_input');
      expect(f.error.message).toContain(`examples[${f.index}].inputs`);
    }
  });

  it('refuses a label the model does not know, by name, and a model outside the key', async () => {
    const res = await postJson(EVALUATE, { examples: [{ inputs: 'fine', label: 'meh' }] });
    expect(res.status).toBe(422);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toContain("'meh'");
    expect(body.error.message).toContain('examples[0].label');
    const forbidden = await postJson(
      '/v1/models/iris-tree/evaluate',
      { examples: [{ inputs: [1, 2, 3, 4], label: 'setosa' }] },
      {},
      env,
      {
        key: 'sentimentOnly',
      },
    );
    expect(forbidden.status).toBe(403);
    const empty = await postJson(EVALUATE, { examples: [] });
    expect(empty.status).toBe(422);
  });
});

describe('POST /v1/evaluate', () => {
  it("compares models with McNemar's test: a model against itself has no disagreement and p = 1", async () => {
    const { manifest } = built('sentiment-en');
    const res = await postJson('/v1/evaluate', {
      models: ['sentiment-en', `sentiment-en@${manifest.version}`],
      examples: examples.slice(0, 200),
    });
    expect(res.status).toBe(200);
    const body = await json<Comparison>(res);
    expect(body.n).toBe(200);
    expect(body.reports).toHaveLength(2);
    expect(body.reports[0]?.accuracy).toBe(body.reports[1]?.accuracy);
    expect(body.pairs).toEqual([expect.objectContaining({ b: 0, c: 0, p_value: 1, better: null })]);
  });

  it('refuses models whose label sets differ, naming the difference', async () => {
    const res = await postJson('/v1/evaluate', {
      models: ['sentiment-en', RELABELLED],
      examples: examples.slice(0, 10),
    });
    expect(res.status).toBe(422);
    const body = await json<ErrorJson>(res);
    expect(body.error.message).toContain('neutral');
    expect(body.error.message).toContain(RELABELLED);
  });
});
