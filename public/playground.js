/**
 * @module The playground page (GET /): an API key kept in session storage only, the live catalogue from GET /v1/models,
 * one input per model task, POST /v1/models/{id}/predict with the latency measured here and the response headers shown,
 * and every error answer's message in an alert region.
 */
import { detectionsView, isDetections } from './playground-boxes.js';
import { fileSize, guardPageDrops, mediaTypeOf, setupDropZone } from './playground-files.js';
import { h, renderMeta, renderOutput } from './playground-render.js';

const KEY_STORAGE = 'edge-inference.playground.key';
const REQUEST_TIMEOUT_MS = 60_000;

/** Which input a task takes; any other task gets the JSON body editor. */
const INPUT_OF_TASK = {
  'text-classification': 'text',
  'image-classification': 'image',
  'face-detection': 'image',
  'object-detection': 'image',
  'voice-activity-detection': 'audio',
  'tabular-classification': 'tabular',
  'feature-extraction': 'embed',
};

/** Tasks whose answers are boxes in the picture's pixels: drawn over the uploaded picture. */
const DETECTION_TASKS = new Set(['face-detection', 'object-detection']);

/**
 * The element with this id, checked to be of this type.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing from the page`);
  return node;
}

const ui = {
  keyForm: byId('key-form', HTMLFormElement),
  key: byId('api-key', HTMLInputElement),
  keyShow: byId('key-show', HTMLInputElement),
  loadModels: byId('load-models', HTMLButtonElement),
  catalogueStatus: byId('catalogue-status', HTMLElement),
  form: byId('predict-form', HTMLFormElement),
  model: byId('model', HTMLSelectElement),
  modelInfo: byId('model-description', HTMLElement),
  text: byId('text-input', HTMLTextAreaElement),
  explain: byId('explain', HTMLInputElement),
  imageFile: byId('image-file', HTMLInputElement),
  audioFile: byId('audio-file', HTMLInputElement),
  tabular: byId('tabular-input', HTMLInputElement),
  tabularHint: byId('tabular-hint', HTMLElement),
  embed: byId('embed-input', HTMLTextAreaElement),
  json: byId('json-input', HTMLTextAreaElement),
  bypass: byId('bypass-cache', HTMLInputElement),
  run: byId('run', HTMLButtonElement),
  error: byId('error', HTMLElement),
  status: byId('status', HTMLElement),
  result: byId('result', HTMLElement),
  rawBody: byId('raw-body', HTMLElement),
};

/** The catalogue as last loaded. */
let models = [];
/** The file chosen or dropped per kind. */
const files = { image: undefined, audio: undefined };
let busy = false;

/** An input problem found before sending, with the control to fix. */
class InputError extends Error {
  constructor(message, control) {
    super(message);
    this.control = control;
  }
}

// --- key -------------------------------------------------------------------------------------------------------

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return ''; // storage disabled: the key lives in the field only
  }
}

function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled
  }
}

const currentKey = () => ui.key.value.trim();

// --- messages --------------------------------------------------------------------------------------------------

/** Shows an error in the alert region: the API's message, its code and the HTTP status. */
function showError({ message, code, status }) {
  const details = [code ? `code ${code}` : '', status ? `HTTP ${status}` : ''].filter(Boolean).join(', ');
  ui.error.replaceChildren(
    h('p', { class: 'error-title', text: 'Request failed' }),
    h('p', { class: 'error-message', text: message }),
    ...(details ? [h('p', { class: 'error-code', text: details })] : []),
  );
}

const clearError = () => ui.error.replaceChildren();
const announce = (text) => {
  ui.status.textContent = text;
};

function markInvalid(control) {
  for (const node of ui.form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

// --- HTTP ------------------------------------------------------------------------------------------------------

/** What an error answer says: the API's `{ error: { code, message } }`, or a plain sentence when it is not that. */
function errorOf(body, res) {
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (error && typeof error === 'object' && typeof error.message === 'string') {
    return { message: error.message, code: typeof error.code === 'string' ? error.code : '', status: res.status };
  }
  return {
    message: `The server answered ${[res.status, res.statusText].filter(Boolean).join(' ')} without an error message.`,
    code: '',
    status: res.status,
  };
}

/**
 * One API call, timed from before the request until its body is read.
 * @returns {Promise<{ ok: boolean, status: number, statusText: string, headers: Headers, latencyMs: number,
 *   body: unknown, text: string, error?: { message: string, code: string, status: number } }>}
 */
async function call(path, init) {
  const started = performance.now();
  let res;
  let text = '';
  try {
    res = await fetch(path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    text = await res.text();
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
    const message = timedOut
      ? `No answer within ${REQUEST_TIMEOUT_MS / 1000} s; the request was stopped.`
      : `Could not reach the API (${err instanceof Error ? err.message : String(err)}). Check the connection and try again.`;
    const failed = { message, code: timedOut ? 'timeout' : 'network_error', status: 0 };
    return {
      ok: false,
      status: res?.status ?? 0,
      statusText: res?.statusText ?? '',
      headers: res?.headers ?? new Headers(),
      latencyMs: performance.now() - started,
      body: undefined,
      text,
      error: failed,
    };
  }
  const latencyMs = performance.now() - started;
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const answer = {
    ok: res.ok,
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
    latencyMs,
    body,
    text,
  };
  if (!res.ok) return { ...answer, error: errorOf(body, res) };
  if (body === undefined) {
    return {
      ...answer,
      ok: false,
      error: { message: 'The API answered with something that is not JSON.', code: '', status: res.status },
    };
  }
  return answer;
}

// --- catalogue -------------------------------------------------------------------------------------------------

function describeModel(model) {
  if (!model) {
    ui.modelInfo.replaceChildren();
    return;
  }
  const facts = [`task: ${model.task}`, `version ${model.version}`];
  if (Array.isArray(model.labels) && model.labels.length > 0) {
    const shown = model.labels.slice(0, 12).join(', ');
    facts.push(`labels: ${shown}${model.labels.length > 12 ? ', …' : ''}`);
  }
  if (typeof model.accuracy === 'number') facts.push(`held-out accuracy ${(model.accuracy * 100).toFixed(1)} %`);
  ui.modelInfo.replaceChildren(
    h('p', { class: 'model-facts', text: facts.join(' · ') }),
    h('p', { class: 'model-text', text: model.description ?? '' }),
  );
}

/** How many features a tabular model takes, from its first input's last dimension. */
function featureCount(model) {
  const shape = model?.inputs?.[0]?.shape;
  const last = Array.isArray(shape) ? shape[shape.length - 1] : undefined;
  return typeof last === 'number' ? last : undefined;
}

function showInputFor(model) {
  const kind = model ? (INPUT_OF_TASK[model.task] ?? 'json') : '';
  for (const group of ui.form.querySelectorAll('.task-input')) {
    if (group instanceof HTMLElement) group.hidden = group.dataset.input !== kind;
  }
  if (kind === 'tabular') {
    const n = featureCount(model);
    ui.tabularHint.textContent = `${n ? `${n} numbers, ` : ''}sent as { "inputs": [numbers] }.`;
  }
  markInvalid(undefined);
}

const selectedModel = () => models.find((m) => m.id === ui.model.value);

function fillCatalogue(list) {
  models = list;
  const previous = ui.model.value;
  const byTask = new Map();
  for (const m of list) byTask.set(m.task, [...(byTask.get(m.task) ?? []), m]);
  ui.model.replaceChildren(
    ...[...byTask.entries()].map(([task, group]) =>
      h(
        'optgroup',
        { label: task },
        group.map((m) => h('option', { value: m.id, title: m.description ?? '', text: `${m.id} — ${m.task}` })),
      ),
    ),
  );
  if (list.some((m) => m.id === previous)) ui.model.value = previous;
  ui.model.disabled = list.length === 0;
  ui.run.disabled = list.length === 0;
  describeModel(selectedModel());
  showInputFor(selectedModel());
}

async function loadCatalogue() {
  const key = currentKey();
  clearError();
  if (!key) {
    showError({ message: 'Paste an API key first.' });
    ui.key.focus();
    return;
  }
  storeKey(key);
  ui.loadModels.setAttribute('aria-disabled', 'true');
  ui.catalogueStatus.textContent = 'Loading the models…';
  const answer = await call('/v1/models', { headers: { authorization: `Bearer ${key}` } });
  ui.loadModels.removeAttribute('aria-disabled');
  if (!answer.ok || !answer.body || !Array.isArray(answer.body.data)) {
    ui.catalogueStatus.textContent = 'The models could not be loaded.';
    showError(answer.error ?? { message: 'The catalogue answer has no model list.', status: answer.status });
    return;
  }
  fillCatalogue(answer.body.data);
  const n = answer.body.data.length;
  const text = n === 0 ? 'This key may call no models.' : `${n} model${n === 1 ? '' : 's'} loaded.`;
  ui.catalogueStatus.textContent = text;
  announce(text);
}

// --- requests --------------------------------------------------------------------------------------------------

function parseNumbers(text) {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InputError('Type some comma-separated numbers first.', ui.tabular);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isFinite(n)) throw new InputError(`“${p}” is not a number.`, ui.tabular);
    return n;
  });
}

function requiredText(control, what) {
  const text = control.value;
  if (!text.trim()) throw new InputError(`Type ${what} first.`, control);
  return text;
}

/** The body and media type of a prediction for the selected model's task. */
async function buildRequest(model) {
  const kind = INPUT_OF_TASK[model.task] ?? 'json';
  const json = (body) => ({ body: JSON.stringify(body), contentType: 'application/json' });
  switch (kind) {
    case 'text':
      return json({
        inputs: requiredText(ui.text, 'some text'),
        parameters: ui.explain.checked ? { explain: true } : {},
      });
    case 'embed':
      return json({ inputs: requiredText(ui.embed, 'some text'), parameters: {} });
    case 'tabular':
      return json({ inputs: parseNumbers(ui.tabular.value) });
    case 'image':
    case 'audio': {
      const file = files[kind];
      const control = kind === 'image' ? ui.imageFile : ui.audioFile;
      if (!file) throw new InputError(`Choose ${kind === 'image' ? 'an image' : 'a WAV file'} first.`, control);
      return { body: file, contentType: await mediaTypeOf(file, kind) };
    }
    default: {
      let parsed;
      try {
        parsed = JSON.parse(requiredText(ui.json, 'a JSON body'));
      } catch (err) {
        if (err instanceof InputError) throw err;
        throw new InputError(`The body is not valid JSON: ${err instanceof Error ? err.message : ''}`, ui.json);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('inputs' in parsed)) {
        throw new InputError('The body must be a JSON object with "inputs" (and optionally "parameters").', ui.json);
      }
      return json(parsed);
    }
  }
}

function showRaw(answer) {
  let text = answer.text;
  try {
    text = JSON.stringify(JSON.parse(answer.text), null, 2);
  } catch {
    // not JSON: shown as it came
  }
  ui.rawBody.textContent = text.length > 20_000 ? `${text.slice(0, 20_000)}\n…` : text;
}

async function predict() {
  if (busy) return;
  const model = selectedModel();
  clearError();
  if (!model) {
    showError({ message: 'Load the models and pick one first.' });
    ui.key.focus();
    return;
  }
  const key = currentKey();
  if (!key) {
    showError({ message: 'Paste an API key first.' });
    ui.key.focus();
    return;
  }
  let request;
  try {
    request = await buildRequest(model);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    showError({ message: err.message });
    markInvalid(err.control);
    return;
  }
  markInvalid(undefined);
  const headers = { authorization: `Bearer ${key}`, 'content-type': request.contentType };
  if (ui.bypass.checked) headers['cache-control'] = 'no-store';
  busy = true;
  ui.run.setAttribute('aria-disabled', 'true');
  ui.result.setAttribute('aria-busy', 'true');
  ui.run.textContent = 'Running…';
  announce(`Running ${model.id}…`);
  try {
    const answer = await call(`/v1/models/${encodeURIComponent(model.id)}/predict`, {
      method: 'POST',
      headers,
      body: request.body,
    });
    renderMeta(answer);
    showRaw(answer);
    if (!answer.ok) {
      ui.result.replaceChildren();
      showError(answer.error);
      announce(`${model.id} failed: ${answer.error?.message ?? 'error'}`);
      return;
    }
    const view =
      DETECTION_TASKS.has(model.task) && isDetections(answer.body) && request.body instanceof Blob
        ? await detectionsView(answer.body, request.body)
        : renderOutput(answer.body);
    ui.result.replaceChildren(view.node);
    const cache = answer.headers.get('X-Cache');
    announce(`${model.id}: ${view.summary}. ${answer.latencyMs.toFixed(0)} ms${cache ? `, cache ${cache}` : ''}.`);
  } finally {
    busy = false;
    ui.run.removeAttribute('aria-disabled');
    ui.result.removeAttribute('aria-busy');
    ui.run.textContent = 'Run model';
  }
}

// --- files -----------------------------------------------------------------------------------------------------

/** Object URLs of the previews, revoked when replaced. */
const previewUrl = { image: '', audio: '' };

function chooseFile(kind, file) {
  files[kind] = file;
  const name = byId(`${kind}-file-name`, HTMLElement);
  const preview = byId(`${kind}-preview`, kind === 'image' ? HTMLImageElement : HTMLAudioElement);
  if (previewUrl[kind]) URL.revokeObjectURL(previewUrl[kind]);
  previewUrl[kind] = file ? URL.createObjectURL(file) : '';
  name.textContent = file ? `Selected: ${file.name} (${fileSize(file.size)})` : '';
  preview.hidden = !file;
  if (file) {
    preview.src = previewUrl[kind];
    if (preview instanceof HTMLImageElement) preview.alt = `Preview of ${file.name}`;
  } else {
    preview.removeAttribute('src');
  }
  markInvalid(undefined);
}

// --- wiring ----------------------------------------------------------------------------------------------------

ui.keyShow.addEventListener('change', () => {
  ui.key.type = ui.keyShow.checked ? 'text' : 'password';
});
ui.key.addEventListener('change', () => storeKey(currentKey()));
ui.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void loadCatalogue();
});
ui.model.addEventListener('change', () => {
  describeModel(selectedModel());
  showInputFor(selectedModel());
});
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void predict();
});
// Ctrl+Enter (⌘+Enter) in a text area runs the model, as Enter does in a one-line field.
for (const area of [ui.text, ui.embed, ui.json]) {
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
}
for (const kind of ['image', 'audio']) {
  setupDropZone(byId(`${kind}-drop`, HTMLElement), kind === 'image' ? ui.imageFile : ui.audioFile, (file) =>
    chooseFile(kind, file),
  );
}
guardPageDrops();

ui.key.value = storedKey();
if (ui.key.value) void loadCatalogue();
