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
  if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) return unknownKeysMessage(issue.keys, fieldsAt(schema, issue.path));
  // zod 4 reports a record's bad key as "Invalid key in record", its rule in nested issues.
  const nested = (issue as { issues?: unknown }).issues;
  if (issue.code === 'invalid_key' && Array.isArray(nested) && nested.length > 0) {
    return nested.map((inner: CatalogIssue) => issueMessage(inner, undefined)).join('; ');
  }
  return issue.message;
}

function unknownKeysMessage(keys: readonly string[], allowed: readonly string[] | undefined): string {
  const named = keys.map((key) => {
    const near = allowed && typeof key === 'string' ? nearest(key, allowed) : undefined;
    return `${typeof key === 'string' ? JSON.stringify(key) : String(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
  });
  return `${keys.length === 1 ? 'unknown field' : 'unknown fields'} ${named.join(', ')}`;
}

/**
 * The fields the object schema at `path` inside `schema` allows, found through zod's objects
 * (and their catchall), arrays, tuples, records, maps and wrappers (optional, nullable,
 * default, pipe...), zod 4's or zod 3's; undefined where the walk finds no object (a union,
 * another library's schema) or the schema throws when read: a suggestion is a courtesy, and
 * the message it goes into must still be given (materialize runs this for catalog schemas).
 */
function fieldsAt(schema: unknown, path: readonly PropertyKey[]): string[] | undefined {
  try {
    let at = unwrap(schema);
    for (const segment of path) {
      if (at === undefined) return undefined;
      at = unwrap(childAt(at, segment));
    }
    const shape = at === undefined ? undefined : shapeOf(at);
    return shape === undefined ? undefined : Object.keys(shape).filter((key) => typeof key === 'string');
  } catch {
    return undefined;
  }
}

/** The schema of the value at `segment` inside a value `schema` describes. */
function childAt(schema: object, segment: PropertyKey): unknown {
  const shape = shapeOf(schema);
  const def = definitionOf(schema);
  const key = String(segment);
  if (shape !== undefined) return Object.hasOwn(shape, key) ? shape[key] : def?.catchall;
  const kind = kindOf(def);
  // zod 4 names its kinds in def.type; zod 3 in typeName, and keeps an array's items in def.type.
  if (kind === 'array') return def!.element;
  if (kind === 'ZodArray') return def!.type;
  if (kind === 'tuple' || kind === 'ZodTuple') return def!.items?.[Number(key)] ?? def!.rest;
  return def?.valueType;
}

/** Wrappers whose inner schema describes the same value (zod 4's `_zod.def.type`, zod 3's `typeName`). */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'ZodOptional', 'ZodNullable', 'ZodDefault', 'ZodReadonly', 'ZodCatch']);

function unwrap(schema: unknown): object | undefined {
  let at = schema;
  for (let depth = 0; depth < 16 && at !== null && (typeof at === 'object' || typeof at === 'function'); depth++) {
    const def = definitionOf(at);
    const kind = kindOf(def);
    if (kind !== undefined && WRAPPERS.has(kind)) at = def!.innerType;
    // A pipe's issues about unknown keys come from its input schema, unless that is a transform
    // (z.preprocess): then from its output's.
    else if (kind === 'pipe') at = kindOf(definitionOf(def!.in)) === 'transform' ? def!.out : def!.in;
    else if (kind === 'ZodEffects') at = def!.schema;
    else if (kind === 'ZodPipeline') at = def!.in;
    else if (kind === 'ZodBranded') at = def!.type;
    else return at as object;
  }
  return undefined;
}

/** A schema's kind: zod 4's `def.type` (`'object'`), else zod 3's `typeName` (`'ZodObject'`; its `def.type` can be a schema). */
function kindOf(def: Record<string, any> | undefined): string | undefined {
  const kind = typeof def?.type === 'string' ? def.type : def?.typeName;
  return typeof kind === 'string' ? kind : undefined;
}

function definitionOf(schema: unknown): Record<string, any> | undefined {
  if (schema === null || (typeof schema !== 'object' && typeof schema !== 'function')) return undefined;
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
