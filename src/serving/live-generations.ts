/**
 * @module The generations running in this isolate (or origin process), by id, so `DELETE /v1/generations/{id}` can
 * stop one: each holds an AbortController its decoding loop checks before every model run. An entry belongs to the
 * API key that started it (the origin's are all the edge's), so one caller can never stop another's. Runtime-neutral.
 */

/** The id the edge gave a generation it forwards, so a cancel passed on finds it. */
export const ID_HEADER = 'X-Generation-Id';
/** The key's id travels with a forwarded generation, so a cancel passed on reaches only its owner's. */
export const OWNER_HEADER = 'X-Generation-Owner';

interface Live {
  owner: string;
  controller: AbortController;
}

export interface LiveGeneration {
  readonly id: string;
  /** Aborts on cancel, or when the parent signal (the client's connection) aborts. */
  readonly signal: AbortSignal;
  /** Forgets the entry (call once the generation has ended). */
  end(): void;
}

export class LiveGenerations {
  private readonly live = new Map<string, Live>();

  start(id: string, owner: string, parent?: AbortSignal): LiveGeneration {
    const controller = new AbortController();
    const onParent = (): void => controller.abort(parent?.reason);
    if (parent?.aborted === true) controller.abort(parent.reason);
    else parent?.addEventListener('abort', onParent, { once: true });
    this.live.set(id, { owner, controller });
    return {
      id,
      signal: controller.signal,
      end: () => {
        parent?.removeEventListener('abort', onParent);
        if (this.live.get(id)?.controller === controller) this.live.delete(id);
      },
    };
  }

  /** Stops the owner's generation `id`; false when none by that id is running here for that owner. */
  cancel(id: string, owner: string): boolean {
    const entry = this.live.get(id);
    if (entry === undefined || entry.owner !== owner) return false;
    entry.controller.abort(new Error('cancelled'));
    this.live.delete(id);
    return true;
  }

  get size(): number {
    return this.live.size;
  }
}

/** One registry per isolate / process. */
export const liveGenerations = new LiveGenerations();

/** `chatcmpl-…`, `cmpl-…`, `gen-…`: OpenAI's prefixes, a random hex body. */
export function newGenerationId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll('-', '')}`;
}
