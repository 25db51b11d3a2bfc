/** Shared zod pieces of the payload schemas (pure). */
import { z } from 'zod';

/** SQL / Cypher identifier: letters, digits, underscore; not starting with a digit. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
export const identifier = z.string().regex(IDENTIFIER_PATTERN, 'must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$');

/** Any JSON value. */
export const jsonValue: z.ZodType<unknown> = z.json();
export const jsonObject = z.record(z.string(), z.json());
