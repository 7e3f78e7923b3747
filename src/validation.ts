import type { z } from 'zod';
import type { CatalogIssue } from './catalog.js';
import { ActivityLogError, type ActivityLogErrorCode } from './errors.js';

/**
 * Turns zod issues into one sentence per problem, each naming the field and the rule:
 * `action: must be dotted lower-case like "recipe.update", got "Recipe Create"`.
 */
export function formatIssues(issues: readonly CatalogIssue[], prefix?: string): string {
  return issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((part) => part !== undefined && part !== '').join('.');
      const message = issue.code === 'unrecognized_keys' && issue.keys ? unknownKeysMessage(issue.keys) : issue.message;
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

function unknownKeysMessage(keys: readonly string[]): string {
  const list = keys.map((key) => JSON.stringify(key)).join(', ');
  return keys.length === 1 ? `unknown field ${list}` : `unknown fields ${list}`;
}

/** Parses `input` with `schema`, or throws an {@link ActivityLogError} with every problem named. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  code: ActivityLogErrorCode,
  what: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ActivityLogError(code, `${what}: ${formatIssues(result.error.issues)}`, {
    details: { issues: result.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message })) },
  });
}
