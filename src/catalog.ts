/**
 * The catalog's types, by shape: a metadata schema is anything with zod's `safeParse` (zod 4,
 * or 3.23 and newer), and an action's metadata type is read from the schema's own input type.
 * Nothing here imports zod, so the package's declarations do not pull zod's in: an app that
 * never writes a catalog type-checks without them (zod 4's need TypeScript 5.5 or newer).
 */

/** One problem a schema found, as zod reports it; `path` and `message` are what is used. */
export interface CatalogIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
}

/** A metadata schema: a zod schema, or anything with the same `safeParse`. */
export interface CatalogSchema {
  safeParse(data: unknown): { success: true; data: unknown } | { success: false; error: { readonly issues: readonly CatalogIssue[] } };
}

/** A per-action metadata schema map; see `createActivityLogger({ catalog })`. */
export type ActivityCatalog = Record<string, CatalogSchema>;

/**
 * The metadata type a schema accepts: zod 4's input type (`z.input`), zod 3's, or `unknown`
 * for a schema that does not say.
 */
export type CatalogInput<S> = S extends { readonly _zod: { readonly input: infer I } } ? I : S extends { readonly _input: infer I } ? I : unknown;
