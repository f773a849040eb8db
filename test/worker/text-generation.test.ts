/**
 * @module Text generation inside workerd through HTTP: the tiny GPT-2 and Llama folders published by the CLI's code,
 * seeded into the real miniflare R2, called by the official `openai` client (pointed at the Worker's own fetch entry)
 * and over the task and native routes. Oracle: transformers.js's greedy answers on the same folders
 * (test/support/hf-generation.ts). Also: streamed chunks concatenate to the plain answer, seeds reproduce, stop
 * sequences, 422s naming unsupported OpenAI fields, the KV cache with a streamed replay, and cancellation by a client
 * abort or `DELETE /v1/generations/{id}` (counted in onnxruntime-web session runs against a witness generation and the
 * isolate's registry of live generations, not after a guessed sleep).
 */
import { env, exports } from 'cloudflare:workers';
import OpenAI from 'openai';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runtimeInfo } from '../../src/runtime/ort.js';
import { liveGenerations } from '../../src/serving/live-generations.js';
import { r2Keys } from '../../src/lib/manifest.js';
import { HF_GENERATION_CHAT, HF_GENERATION_PROMPTS } from '../support/hf-generation-inputs.js';
import { call, ensureKeys, json, postJson, secretOf, type ErrorJson } from './client.js';
import { base64Bytes, builtManifest, seedModels } from './seed.js';

const { references: refs, models } = inject('hfGeneration');

beforeAll(async () => {
  for (const m of models) {
    for (const [name, b64] of Object.entries(m.files))
      await env.MODELS.put(r2Keys.file(m.id, m.version, name), base64Bytes(b64));
    await env.MODELS.put(r2Keys.manifest(m.id, m.version), m.manifestText);
    await env.MODELS.put(r2Keys.latest(m.id), m.version);
  }
  await ensureKeys();
});

function ref(id: string) {
  const r = refs.models.find((m) => m.id === id);
  if (r === undefined) throw new Error(`no oracle for ${id}`);
  return r;
}

/** The official client on the Worker's real fetch entry (a real subrequest: aborts cancel the response). */
function openai(): OpenAI {
  return new OpenAI({
    baseURL: 'http://edge.test/v1',
    apiKey: secretOf('plain'),
    maxRetries: 0,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input, init),
  });
}

describe('the openai client', () => {
  it.each([0, 1, 2, 3])('completions.create greedy equals transformers.js on tiny-gpt2 (prompt %i)', async (i) => {
    const r = ref('tiny-gpt2').cases[i];
    if (r === undefined) throw new Error('no case');
    const res = await openai().completions.create({
      model: 'tiny-gpt2',
      prompt: HF_GENERATION_PROMPTS[i] ?? '',
      max_tokens: refs.maxNewTokens,
      temperature: 0,
    });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]?.text).toBe(r.generatedText);
    expect(res.usage?.prompt_tokens).toBe(r.promptIds.length);
    expect(res.usage?.completion_tokens).toBe(r.generatedIds.length);
    expect(res.choices[0]?.finish_reason).toBe(r.generatedIds.length < refs.maxNewTokens ? 'stop' : 'length');
  });

  it('chat.completions.create renders the Llama chat template and answers as transformers.js', async () => {
    const chat = ref('tiny-llama').chat;
    if (chat === undefined) throw new Error('no chat oracle');
    const res = await openai().chat.completions.create({
      model: 'tiny-llama',
      messages: HF_GENERATION_CHAT.map((m) => ({ ...m })),
      max_completion_tokens: refs.maxNewTokens,
      temperature: 0,
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]?.message.role).toBe('assistant');
    expect(res.choices[0]?.message.content).toBe(chat.generatedText);
    expect(res.usage?.prompt_tokens).toBe(chat.promptIds.length);
  });

  it('stream: true arrives in several chunks whose concatenation equals the plain answer', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about the soup.' }];
    const plain = await openai().chat.completions.create({
      model: 'tiny-llama',
      messages,
      max_completion_tokens: 24,
      temperature: 0,
    });
    const stream = await openai().chat.completions.create({
      model: 'tiny-llama',
      messages,
      max_completion_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(plain.choices[0]?.message.content);
    expect(finish).toBe(plain.choices[0]?.finish_reason);
    expect(usage).toEqual(plain.usage);
  });

  it('a seed reproduces a sampled answer; another seed gives another', async () => {
    const sample = async (seed: number) =>
      (
        await openai().completions.create({
          model: 'tiny-gpt2',
          prompt: 'The food was',
          max_tokens: 16,
          temperature: 1.3,
          seed,
        })
      ).choices[0]?.text;
    const a = await sample(11);
    expect(await sample(11)).toBe(a);
    const others = await Promise.all([12, 13, 14].map(sample));
    expect(others.some((t) => t !== a)).toBe(true);
  });

  it('stop sequences end the text before them (streamed and not)', async () => {
    const r = ref('tiny-gpt2').cases[1];
    if (r === undefined) throw new Error('no case');
    const stop = r.generatedText.slice(6, 9);
    const expected = r.generatedText.slice(0, r.generatedText.indexOf(stop));
    const args = { model: 'tiny-gpt2', prompt: HF_GENERATION_PROMPTS[1], max_tokens: 16, temperature: 0, stop: [stop] };
    const plain = await openai().completions.create(args);
    expect(plain.choices[0]?.text).toBe(expected);
    expect(plain.choices[0]?.finish_reason).toBe('stop');
    let streamed = '';
    for await (const chunk of await openai().completions.create({ ...args, stream: true }))
      streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(expected);
  });

  it('a client abort stops the generation: no session runs for nobody', async () => {
    /*
     * No sleep: the witness is a whole other generation run to its end in this isolate after the abort. Had the
     * aborted loop kept decoding, its runs would have interleaved with the witness's (one JavaScript thread), so the
     * runs counted beyond the witness's own are the aborted one's. The witness's own count is measured first.
     */
    const witness = async (): Promise<number> => {
      const before = runtimeInfo().runs;
      const res = await openai().completions.create(
        { model: 'tiny-gpt2', prompt: 'The witness said', max_tokens: 24, temperature: 0 },
        { headers: { 'cache-control': 'no-store' } },
      );
      expect(res.usage?.completion_tokens).toBe(24);
      return runtimeInfo().runs - before;
    };
    const alone = await witness();
    expect(alone).toBeGreaterThanOrEqual(24);
    const controller = new AbortController();
    const stream = await openai().completions.create(
      { model: 'tiny-gpt2', prompt: 'The food was', max_tokens: 100, temperature: 0, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    let runsAtAbort = 0;
    try {
      for await (const chunk of stream) {
        chunks += chunk.choices.length;
        if (chunks === 3) {
          runsAtAbort = runtimeInfo().runs;
          controller.abort();
        }
      }
    } catch (err) {
      expect(String(err)).toMatch(/abort/i);
    }
    expect(chunks).toBe(3);
    const during = await witness();
    expect(during).toBe(alone);
    // The run in flight and the one the next chunk was written after, at most; 100 tokens would be ~100 runs more.
    expect(runtimeInfo().runs - runsAtAbort - during).toBeLessThanOrEqual(3);
  });
});

describe('the task API and the native route', () => {
  it("answers Hugging Face's [{ generated_text }] with the prompt first", async () => {
    const r = ref('tiny-gpt2').cases[0];
    if (r === undefined) throw new Error('no case');
    const res = await postJson('/v1/models/tiny-gpt2/predict', {
      inputs: HF_GENERATION_PROMPTS[0],
      parameters: { max_new_tokens: refs.maxNewTokens, do_sample: false },
    });
    expect(res.status).toBe(200);
    expect(await json<{ generated_text: string }[]>(res)).toEqual([{ generated_text: r.fullText }]);
  });

  it('caches greedy answers and replays a cached one as a stream', async () => {
    const body = { model: 'tiny-gpt2', prompt: 'Cache me if you', max_tokens: 12, temperature: 0 };
    const first = await postJson('/v1/completions', body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const text = (await json<{ choices: { text: string }[] }>(first)).choices[0]?.text;
    const again = await postJson('/v1/completions', { ...body, stream: true });
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(again.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await again.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    expect(events.at(-1)).toBe('[DONE]');
    const streamed = events
      .slice(0, -1)
      .map((e) => (JSON.parse(e) as { choices: { text: string }[] }).choices[0]?.text ?? '')
      .join('');
    expect(streamed).toBe(text);
  });

  it('never caches a sampled answer without a seed', async () => {
    const res = await postJson('/v1/completions', {
      model: 'tiny-gpt2',
      prompt: 'Random',
      max_tokens: 4,
      temperature: 1,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('BYPASS');
  });

  it('DELETE /v1/generations/{id} stops a running generation; another key cannot', async () => {
    const liveBefore = liveGenerations.size;
    const res = await postJson('/v1/models/tiny-gpt2/generate', {
      inputs: 'The food was',
      parameters: { max_new_tokens: 100, do_sample: false },
      stream: true,
    });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-generation-id');
    expect(id).toMatch(/^gen-/);
    const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
    if (reader === undefined || id === null) throw new Error('no stream');
    await reader.read();
    // Unread, the stream holds the decoding loop back (each piece waits to be written), so the generation is still
    // registered when the cancel comes, however slow or fast this machine is: checked, not assumed.
    expect(liveGenerations.size).toBe(liveBefore + 1);
    const other = await call(`/v1/generations/${id}`, { method: 'DELETE' }, env, { key: 'other' });
    expect(other.status).toBe(404);
    const cancelled = await call(`/v1/generations/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += value;
    }
    const last = rest
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .at(-1);
    const done = JSON.parse(last?.slice(6) ?? '{}') as {
      type: string;
      finish_reason: string;
      usage: { completion_tokens: number };
    };
    expect(done.type).toBe('done');
    expect(done.finish_reason).toBe('cancelled');
    expect(done.usage.completion_tokens).toBeLessThan(100);
    expect(liveGenerations.size).toBe(liveBefore);
    const gone = await call(`/v1/generations/${id}`, { method: 'DELETE' });
    expect(gone.status).toBe(404);
  });

  it('the model card states the context length and the default max_tokens', async () => {
    const card = await json<{ generation?: { context_length: number; default_max_tokens: number } }>(
      await call('/v1/models/tiny-gpt2'),
    );
    expect(card.generation?.context_length).toBe(128);
    expect(card.generation?.default_max_tokens).toBeGreaterThan(0);
  });
});

describe('refusals', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['n > 1', { n: 2 }, /n \(only 1 choice/],
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }, /tools/],
    ['logprobs', { logprobs: true }, /logprobs/],
    ['an unknown field', { frobnicate: 1 }, /frobnicate \(unknown field\)/],
    ['max_tokens past the context', { max_tokens: 1000 }, /max_tokens: .*(at most|do not fit)/],
  ];
  it.each(cases)('answers 422 naming %s', async (_what, extra, message) => {
    const res = await postJson('/v1/chat/completions', {
      model: 'tiny-llama',
      messages: [{ role: 'user', content: 'hi' }],
      ...extra,
    });
    expect(res.status).toBe(422);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toMatch(message);
  });

  it('refuses image parts in chat, naming them', async () => {
    const image = await postJson('/v1/chat/completions', {
      model: 'tiny-llama',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
    });
    expect(image.status).toBe(422);
    expect((await json<ErrorJson>(image)).error.message).toMatch(/only text parts/);
  });
});

describe('brown-gpt-en, the decoder trained here, at the edge and through the origin', () => {
  const origin = inject('origin');
  const live = { ...env, ORIGIN_URL: origin.url, ORIGIN_SECRET: origin.secret } as Env;
  const body = {
    inputs: 'The jury said that the city',
    parameters: { max_new_tokens: 40, do_sample: false },
    stream: true,
  };

  /** The native route's SSE: the text pieces and the done event. */
  async function streamed(res: Response): Promise<{ text: string; pieces: number; done: { finish_reason: string } }> {
    const events = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as { type: string; text: string; finish_reason: string });
    const texts = events.filter((e) => e.type === 'text');
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error('no done event');
    return { text: texts.map((e) => e.text).join(''), pieces: texts.length, done };
  }

  it('streams the same greedy English from the edge and from the origin (continuous batching), through the edge', async () => {
    await seedModels();
    const edge = await postJson('/v1/models/brown-gpt-en/generate', body, { 'cache-control': 'no-store' }, live);
    expect(edge.headers.get('x-placement')).toBe('edge');
    const remote = await postJson(
      '/v1/models/brown-gpt-en/generate',
      body,
      { 'cache-control': 'no-store', 'x-placement': 'origin' },
      live,
    );
    expect(remote.status).toBe(200);
    expect(remote.headers.get('x-placement')).toBe('origin');
    const [a, b] = [await streamed(edge), await streamed(remote)];
    expect(b.pieces).toBeGreaterThan(3);
    expect(b.text).toBe(a.text);
    expect(b.done.finish_reason).toBe('length');
    // English-looking: mostly letters and spaces.
    expect((a.text.match(/[a-z ]/gi) ?? []).length / a.text.length).toBeGreaterThan(0.8);
  });

  it('sends a request over its measured edge_limits.max_tokens to the origin, and runs it at the edge when there is none', async () => {
    await seedModels();
    const limit = (builtManifest('brown-gpt-en')['edge_limits'] as { max_tokens?: number }).max_tokens;
    if (limit === undefined) throw new Error('brown-gpt-en states no edge_limits.max_tokens');
    // The task API sums prompt and new tokens over its prompts: enough 40-token generations to pass the limit.
    const prompt = 'The jury said that the city';
    const per = prompt.length + 40;
    const inputs = Array.from({ length: Math.floor(limit / per) + 1 }, (_, i) =>
      `${prompt} ${'and '.repeat(i)}`.trim(),
    );
    const request = { inputs, parameters: { max_new_tokens: 40, do_sample: false, return_full_text: false } };
    const remote = await postJson('/v1/models/brown-gpt-en/predict', request, { 'cache-control': 'no-store' }, live);
    expect(remote.status).toBe(200);
    expect(remote.headers.get('x-placement')).toBe('origin');
    expect(remote.headers.get('x-placement-reason')).toMatch(/over the edge limits \(tokens \d+ > max_tokens \d+\)/);
    const alone = await postJson('/v1/models/brown-gpt-en/predict', request, { 'cache-control': 'no-store' });
    expect(alone.status).toBe(200);
    expect(alone.headers.get('x-placement')).toBe('edge');
    expect(alone.headers.get('x-placement-reason')).toMatch(/no origin is configured/);
    const [a, b] = [
      await json<{ generated_text: string }[][]>(alone),
      await json<{ generated_text: string }[][]>(remote),
    ];
    expect(b).toHaveLength(inputs.length);
    expect(b).toEqual(a);
  });
});
