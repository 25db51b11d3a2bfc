/**
 * The least-privilege roles of docs/security.md: an audit role that may only read and insert
 * audit rows (plus polysaga's bookkeeping tables), and a step role with no privilege on
 * polysaga's tables but the idempotency table. The SQL is `scripts/sql/least-privilege-roles.sql`
 * (also run by hand with psql); this applies it from code, e.g. in tests and set-up scripts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** The SQL file that creates and grants the roles (idempotent). */
export const LEAST_PRIVILEGE_SQL = fileURLToPath(
  new URL('../../scripts/sql/least-privilege-roles.sql', import.meta.url),
);

/** Names (and optional login passwords) of the two roles. */
export interface LeastPrivilegeRoles {
  /** Default `polysaga_audit`. */
  auditRole?: string;
  /** Default `polysaga_step`. */
  stepRole?: string;
  /** When set, the audit role may log in with it. */
  auditPassword?: string;
  /** When set, the step role may log in with it. */
  stepPassword?: string;
}

/**
 * Creates (if missing) and grants the audit and step roles in the database and current schema
 * of `pool`, which must connect as the owner of polysaga's tables with CREATEROLE. Idempotent;
 * one transaction. Passwords travel as parameters, never in the statement text.
 */
export async function applyLeastPrivilegeRoles(
  pool: pg.Pool,
  roles: LeastPrivilegeRoles = {},
): Promise<void> {
  const sql = readFileSync(LEAST_PRIVILEGE_SQL, 'utf8');
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const settings: [string, string | undefined][] = [
      ['polysaga.audit_role', roles.auditRole],
      ['polysaga.step_role', roles.stepRole],
      ['polysaga.audit_password', roles.auditPassword],
      ['polysaga.step_password', roles.stepPassword],
    ];
    for (const [name, value] of settings)
      await c.query('SELECT set_config($1, $2, true)', [name, value ?? '']);
    await c.query(sql);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
