/**
 * @module Durable Object stubs typed as plain async calls. workers-types maps every value it cannot prove
 * serializable (`unknown`, as in a job's `output` or a hook's `parameters`) to `never` in a stub's types, which
 * breaks narrowing; what these objects pass is JSON, which RPC carries, so callers see the methods' own types.
 */

/** The public methods of a Durable Object class, each returning a promise of its own result. */
export type Calls<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

export function rpc<T>(stub: unknown): Calls<T> {
  return stub as Calls<T>;
}
