import type { z } from 'zod';
import { AppError } from './errors.js';

/** Parses input with a zod schema, or throws an `invalid_input` AppError naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', problem: issue.message }));
  throw new AppError('invalid', 'invalid_input', `invalid input: ${fields.map((f) => `${f.field}: ${f.problem}`).join('; ')}`, { fields });
}

/** Page-number pagination of the app's lists (small tables, numbered pages). */
export function pageWindow(page: number, pageSize: number) {
  return { limit: pageSize, offset: (page - 1) * pageSize };
}
