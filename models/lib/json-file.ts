/** @module One JSON file of a model folder read as an object, errors naming the file (for publish and recipes). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const JsonObjectSchema = z.record(z.string(), z.unknown());

/**
 * `dir/name` parsed as a JSON object. A missing file throws, or with `optional` reads as `{}` (a folder may leave
 * out, say, generation_config.json); a file that is not JSON, or holds an array or a scalar, throws naming it.
 */
export function readJsonObject(
  dir: string,
  name: string,
  options: { optional?: boolean } = {},
): Record<string, unknown> {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (options.optional === true) return {};
    throw new Error(`${name} is missing from ${dir}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${name} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = JsonObjectSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${name} must hold a JSON object`);
  return parsed.data;
}
