import type { z } from 'zod';
import type { CatalogIssue } from './catalog.js';
import { ActivityLogError, type ActivityLogErrorCode } from './errors.js';
import { nearest } from './option-keys.js';

/**
 * Turns zod issues into one sentence per problem, each naming the field and the rule:
 * `action: must be dotted lower-case like "recipe.update", got "Recipe Create"`. Given the
 * schema the issues came from, an unknown field is told the nearest field it allows, as an
 * unknown option is (`except.0: unknown field "acton" (did you mean "action"?)`).
 */
export function formatIssues(issues: readonly CatalogIssue[], prefix?: string, schema?: unknown): string {
  return issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((part) => part !== undefined && part !== '').join('.');
      const message = issueMessage(issue, schema);
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

/** One issue's rule, without its path: ours for an unknown field, the schema's own otherwise. */
function issueMessage(issue: CatalogIssue, schema: unknown): string {
  return issue.code === 'unrecognized_keys' && issue.keys ? unknownKeysMessage(issue.keys, fieldsAt(schema, issue.path)) : issue.message;
}

function unknownKeysMessage(keys: readonly string[], allowed: readonly string[] | undefined): string {
  const named = keys.map((key) => {
    const near = allowed && nearest(key, allowed);
    return `${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
  });
  return `${keys.length === 1 ? 'unknown field' : 'unknown fields'} ${named.join(', ')}`;
}

/**
 * The fields the object schema at `path` inside `schema` allows, found through zod's objects,
 * arrays, records and wrappers (optional, nullable, default, pipe...), zod 4's or zod 3's;
 * undefined where the walk finds no object (a union, another library's schema).
 */
function fieldsAt(schema: unknown, path: readonly PropertyKey[]): string[] | undefined {
  let at = unwrap(schema);
  for (const segment of path) {
    if (at === undefined) return undefined;
    const shape = shapeOf(at);
    const def = definitionOf(at);
    if (shape !== undefined) at = unwrap(shape[String(segment)]);
    else if (typeof segment === 'number' || /^\d+$/.test(String(segment))) at = unwrap(def?.element ?? def?.type);
    else at = unwrap(def?.valueType);
  }
  const shape = at === undefined ? undefined : shapeOf(at);
  return shape === undefined ? undefined : Object.keys(shape);
}

/** Wrappers whose inner schema describes the same value (zod 4's `_zod.def.type`, zod 3's `typeName`). */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'ZodOptional', 'ZodNullable', 'ZodDefault', 'ZodReadonly', 'ZodCatch']);

function unwrap(schema: unknown): object | undefined {
  let at = schema;
  for (let depth = 0; depth < 16 && at !== null && typeof at === 'object'; depth++) {
    const def = definitionOf(at);
    const kind = def?.type ?? def?.typeName;
    if (typeof kind === 'string' && WRAPPERS.has(kind)) at = def!.innerType;
    else if (kind === 'pipe') at = def!.in;
    else if (kind === 'ZodEffects') at = def!.schema;
    else return at;
  }
  return undefined;
}

function definitionOf(schema: object): Record<string, any> | undefined {
  const holder = schema as { _zod?: { def?: Record<string, any> }; _def?: Record<string, any> };
  return holder._zod?.def ?? holder._def;
}

function shapeOf(schema: object): Record<string, unknown> | undefined {
  try {
    const { shape } = schema as { shape?: unknown };
    const value = typeof shape === 'function' ? (shape as () => unknown)() : shape;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
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
  throw new ActivityLogError(code, `${what}: ${formatIssues(result.error.issues, undefined, schema)}`, {
    details: { issues: result.error.issues.map((issue) => ({ path: issue.path.map(String), message: issueMessage(issue, schema) })) },
  });
}
