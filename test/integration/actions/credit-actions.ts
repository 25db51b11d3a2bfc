/**
 * The application's own actions of the integration test: they write to PostgreSQL tables of
 * their own through `pg`. Activity code (I/O): the workflow imports only their type.
 */
import type pg from 'pg';
import type { ActionContext } from '../../../src/saga/actions.js';

export interface Credit {
  account: string;
  amount: number;
}

/** The tables the actions write (created by the test). */
export interface CreditTables {
  reservations: string;
  charges: string;
  notices: string;
}

/** The actions over `pool` and `tables`, as a plain map (what `createSagaWorker({ actions })` takes). */
export function createCreditActions(pool: pg.Pool, t: CreditTables) {
  return {
    /** Reserves credit once per idempotency key. */
    async reserveCredit(input: Credit, ctx: ActionContext): Promise<{ reservationId: string }> {
      await pool.query(
        `INSERT INTO ${t.reservations} (id, account, amount, saga_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
        [ctx.idempotencyKey, input.account, input.amount, ctx.sagaId],
      );
      return { reservationId: ctx.idempotencyKey };
    },
    /** Rollback of reserveCredit. */
    async releaseCredit(_input: Credit, result: { reservationId: string }): Promise<{ released: number }> {
      const r = await pool.query(`DELETE FROM ${t.reservations} WHERE id = $1`, [result.reservationId]);
      return { released: r.rowCount ?? 0 };
    },
    /** Charges the card: the table refuses amounts over 100 (a CHECK constraint: a permanent error). */
    async chargeCard(
      input: Credit & { reservationId: string },
      ctx: ActionContext,
    ): Promise<{ chargeId: string }> {
      await pool.query(
        `INSERT INTO ${t.charges} (id, account, amount) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
        [ctx.idempotencyKey, input.account, input.amount],
      );
      return { chargeId: ctx.idempotencyKey };
    },
    /** Rollback of chargeCard. */
    async refundCharge(
      _input: Credit & { reservationId: string },
      result: { chargeId: string },
    ): Promise<void> {
      await pool.query(`DELETE FROM ${t.charges} WHERE id = $1`, [result.chargeId]);
    },
    /**
     * Sends a notice through a service that is down for its first two calls per key: each call is
     * recorded with its attempt, the first two fail with a transient error (retried).
     */
    async sendNotice(input: { account: string }, ctx: ActionContext): Promise<{ delivered: boolean }> {
      const r = await pool.query<{ n: string }>(
        `WITH ins AS (INSERT INTO ${t.notices} (key, attempt, account) VALUES ($1, $2, $3) RETURNING 1)
         SELECT count(*) + 1 AS n FROM ${t.notices} WHERE key = $1`,
        [ctx.idempotencyKey, ctx.attempt, input.account],
      );
      if (Number(r.rows[0]?.n) <= 2) throw new Error(`notice service unavailable (attempt ${ctx.attempt})`);
      return { delivered: true };
    },
  };
}

export type CreditActions = ReturnType<typeof createCreditActions>;
