/**
 * @module One inbound hook (`POST /v1/hooks/{hook}`), in a Durable Object per hook name (SQLite storage): its
 * configuration and the message ids it has accepted, so a replayed message is refused even when two copies arrive
 * at once in different places (one object decides for both).
 */
import { DurableObject } from 'cloudflare:workers';

export type VerifyScheme = 'standard-webhooks' | 'github';

export interface HookConfig {
  name: string;
  model: string;
  /** RFC 6901 JSON pointer to the model's `inputs` inside the event, e.g. `/data/text`. */
  input_pointer: string;
  parameters: Record<string, unknown>;
  verify: { scheme: VerifyScheme; secret: string };
  /** Where the answer is sent (signed, as a job's `completed` webhook); absent: the answer is the response. */
  forward_url?: string;
  /** The admin key that configured it: runs and jobs are on its behalf. */
  owner_key_id: string;
  created_at: string;
  updated_at: string;
}

export class HookObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }

  async config(): Promise<HookConfig | null> {
    return (await this.ctx.storage.get<HookConfig>('config')) ?? null;
  }

  async configure(config: Omit<HookConfig, 'created_at' | 'updated_at'>): Promise<HookConfig> {
    const now = new Date().toISOString();
    const old = await this.config();
    const next: HookConfig = { ...config, created_at: old?.created_at ?? now, updated_at: now };
    await this.ctx.storage.put('config', next);
    return next;
  }

  async remove(): Promise<boolean> {
    const had = (await this.config()) !== null;
    await this.ctx.storage.deleteAll();
    return had;
  }

  /**
   * Records a message id; false when it was seen before (a replay). Ids older than `windowMs` are forgotten: the
   * timestamp tolerance already refuses a message that old.
   */
  firstSighting(id: string, windowMs: number): boolean {
    const now = Date.now();
    this.sql.exec('DELETE FROM seen WHERE at < ?', now - windowMs);
    const inserted = this.sql.exec('INSERT OR IGNORE INTO seen (id, at) VALUES (?, ?)', id, now).rowsWritten;
    return inserted > 0;
  }
}
