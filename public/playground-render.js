/**
 * @module Playground rendering: class scores as bars, explained tokens, speech timelines, vectors and the response
 * headers, built with DOM calls only (no HTML strings, so nothing the API or a user sends is ever parsed as markup).
 */

/**
 * Creates an element.
 * @param {string} tag
 * @param {Record<string, string>} [attrs] attributes; `class` and `text` are shorthands
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

/** A score (0–1) as the page shows it: a percentage with one decimal. */
export const percent = (score) => `${(score * 100).toFixed(1)} %`;

const seconds = (s) => `${s.toFixed(2)} s`;

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLabelScores = (v) =>
  Array.isArray(v) && v.every((x) => isObject(x) && typeof x.label === 'string' && typeof x.score === 'number');
const isExplanation = (v) => isObject(v) && isLabelScores(v.labels) && Array.isArray(v.attributions);
const isSegments = (v) => isObject(v) && typeof v.duration === 'number' && Array.isArray(v.segments);
const isVector = (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
const isSingle = (v) => isLabelScores(v) || isExplanation(v) || isSegments(v) || isVector(v);

/** Class scores, best first (the API's order), as labelled bars with the percentage as text. */
function scoresView(scores) {
  const list = h('ol', { class: 'scores', 'aria-label': 'Class scores, best first' });
  scores.forEach((s, i) => {
    const bar = h('span', { class: 'bar', 'aria-hidden': 'true' }, [h('span', { class: 'bar-fill' })]);
    const fill = bar.firstElementChild;
    if (fill instanceof HTMLElement) fill.style.width = `${Math.max(0, Math.min(1, s.score)) * 100}%`;
    const item = h('li', { class: i === 0 ? 'score top' : 'score', 'data-label': s.label }, [
      h('span', { class: 'score-label', text: s.label }),
      bar,
      h('span', { class: 'score-value', text: percent(s.score) }),
    ]);
    list.append(item);
  });
  return list;
}

const scoresSummary = (scores) => (scores[0] ? `${scores[0].label} ${percent(scores[0].score)}` : 'no classes');

/** Tokens shaded by weight; positive ones underlined solid, negative ones dashed, each with its weight as a title. */
function explanationView(ex) {
  const top = ex.labels[0]?.label ?? 'the top label';
  const weights = ex.attributions.map((a) => Math.abs(a.weight));
  const scale = Math.max(...weights, 1e-9);
  const tokens = h('p', { class: 'tokens' });
  ex.attributions.forEach((a, i) => {
    const sign = a.weight > 1e-6 ? 'pos' : a.weight < -1e-6 ? 'neg' : 'zero';
    const signed = `${a.weight >= 0 ? '+' : '−'}${Math.abs(a.weight).toFixed(3)}`;
    const strength = Math.abs(a.weight) / scale;
    // Near-zero effects get neither shade nor underline, so the words that matter stand out.
    const weak = strength < 0.1 ? ' weak' : '';
    const span = h('span', { class: `tok ${sign}${weak}`, title: `${a.token}: ${signed}` }, [
      a.token,
      h('span', { class: 'visually-hidden', text: ` (${signed})` }),
    ]);
    span.style.setProperty('--w', strength.toFixed(3));
    if (i > 0) tokens.append(' ');
    tokens.append(span);
  });
  const table = h('table', { class: 'weights' }, [
    h('caption', { text: `Token weights towards “${top}”, largest first` }),
    h('thead', {}, [
      h('tr', {}, [h('th', { scope: 'col', text: 'Token' }), h('th', { scope: 'col', text: 'Weight' })]),
    ]),
  ]);
  const body = h('tbody');
  for (const a of [...ex.attributions].sort((x, y) => Math.abs(y.weight) - Math.abs(x.weight))) {
    body.append(h('tr', {}, [h('td', { text: a.token }), h('td', { class: 'num', text: a.weight.toFixed(4) })]));
  }
  table.append(body);
  return h('div', { class: 'explanation' }, [
    h('h3', { text: `Words that moved the answer towards “${top}”` }),
    h('p', { class: 'legend' }, [
      h('span', { class: 'tok pos', text: 'solid underline' }),
      ' raised it, ',
      h('span', { class: 'tok neg', text: 'dashed underline' }),
      ' lowered it; the stronger the shade, the larger the effect (plain words barely mattered). Exact weights: each word’s tooltip and the table.',
    ]),
    ex.attributions.length > 0 ? tokens : h('p', { text: 'No tokens to explain.' }),
    h('details', {}, [h('summary', { text: 'Weights as a table' }), table]),
  ]);
}

/** Speech segments on a timeline bar, and the same segments as a list. */
function segmentsView(vad) {
  const duration = Math.max(vad.duration, 1e-9);
  const speech = vad.segments.reduce((n, s) => n + (s.end - s.start), 0);
  const label = `Timeline of ${seconds(vad.duration)}: ${vad.segments.length} speech segment${vad.segments.length === 1 ? '' : 's'}, ${seconds(speech)} of speech`;
  const timeline = h('div', { class: 'timeline', role: 'img', 'aria-label': label });
  for (const s of vad.segments) {
    const seg = h('span', { class: 'segment', title: `${seconds(s.start)} – ${seconds(s.end)}` });
    seg.style.left = `${(s.start / duration) * 100}%`;
    seg.style.width = `${Math.max(0.4, ((s.end - s.start) / duration) * 100)}%`;
    timeline.append(seg);
  }
  const list =
    vad.segments.length === 0
      ? h('p', { text: 'No speech found.' })
      : h(
          'ol',
          { class: 'segments' },
          vad.segments.map((s) =>
            h('li', { text: `${seconds(s.start)} – ${seconds(s.end)} (${seconds(s.end - s.start)})` }),
          ),
        );
  return h('div', { class: 'vad' }, [
    h('p', { text: label }),
    timeline,
    h('div', { class: 'axis', 'aria-hidden': 'true' }, [
      h('span', { text: '0 s' }),
      h('span', { text: seconds(vad.duration) }),
    ]),
    h('p', { class: 'legend' }, [h('span', { class: 'legend-speech', 'aria-hidden': 'true' }), ' hatched: speech']),
    list,
  ]);
}

/** A vector: its length, norm and first values. */
function vectorView(vector) {
  const norm = Math.sqrt(vector.reduce((n, x) => n + x * x, 0));
  const first = vector.slice(0, 8).map((x) => x.toFixed(4));
  return h('div', { class: 'vector' }, [
    h('p', {}, [
      'A vector of ',
      h('strong', { class: 'vector-length', text: String(vector.length) }),
      ` numbers (L2 norm ${norm.toFixed(3)}).`,
    ]),
    h('p', {}, [
      `First ${first.length}: `,
      h('code', { class: 'vector-head', text: `[${first.join(', ')}${vector.length > first.length ? ', …' : ''}]` }),
    ]),
  ]);
}

function singleView(output) {
  if (isExplanation(output)) {
    return {
      node: h('div', {}, [scoresView(output.labels), explanationView(output)]),
      summary: scoresSummary(output.labels),
    };
  }
  if (isLabelScores(output)) return { node: scoresView(output), summary: scoresSummary(output) };
  if (isSegments(output)) {
    const n = output.segments.length;
    return { node: segmentsView(output), summary: `${n} speech segment${n === 1 ? '' : 's'}` };
  }
  if (isVector(output)) return { node: vectorView(output), summary: `a vector of ${output.length} numbers` };
  return {
    node: h('pre', { class: 'mono json', tabindex: '0', text: JSON.stringify(output, null, 2) }),
    summary: 'an answer',
  };
}

/**
 * The view of a prediction: one output, or a list of them (a list input) each under its own heading.
 * @returns {{ node: HTMLElement, summary: string }} the summary is what the live region announces
 */
export function renderOutput(output) {
  if (Array.isArray(output) && output.length > 0 && !isSingle(output) && output.every(isSingle)) {
    const views = output.map(singleView);
    return {
      node: h(
        'div',
        { class: 'outputs' },
        views.map((v, i) => h('section', { class: 'output' }, [h('h3', { text: `Input ${i + 1}` }), v.node])),
      ),
      summary: `${output.length} answers; the first: ${views[0]?.summary ?? ''}`,
    };
  }
  return singleView(output);
}

/**
 * Fills the response panel from an answer's headers (or clears it).
 * @param {{ status: number, statusText: string, latencyMs: number, headers: Headers } | undefined} answer
 */
export function renderMeta(answer) {
  const set = (id, value) => {
    const node = document.getElementById(id);
    if (node) node.textContent = value ?? '–';
  };
  const header = (name) => answer?.headers.get(name) ?? undefined;
  set('meta-status', answer ? `${answer.status} ${answer.statusText}`.trim() : undefined);
  set('meta-latency', answer ? `${answer.latencyMs.toFixed(0)} ms` : undefined);
  set('meta-cache', header('X-Cache'));
  const placement = header('X-Placement');
  const reason = header('X-Placement-Reason');
  set('meta-placement', placement && reason ? `${placement} (${reason})` : placement);
  set('meta-model', header('X-Model'));
  set('meta-request-id', header('X-Request-Id'));
  set('meta-server-timing', header('Server-Timing'));
  const cache = document.getElementById('meta-cache');
  if (cache) cache.dataset.cache = (header('X-Cache') ?? '').toLowerCase();
}
