import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { inTransaction, type AppDb, type AppTrx } from '../data/database.js';
import * as recipes from '../data/recipes.js';
import type { AppActivity } from './activity.js';
import { AppError, isAppError } from './errors.js';
import { DIETS, type Page, type Recipe } from './types.js';
import { pageWindow, parseInput } from './validation.js';

const recipeFields = {
  title: z.string().trim().min(3).max(120),
  description: z.string().trim().max(2000),
  diet: z.enum(DIETS),
  allergens: z.array(z.string().trim().toLowerCase().min(1).max(40)).max(20).transform((list) => [...new Set(list)].sort()),
  calories: z.number().int().min(0).max(5000),
  ingredients: z.array(z.string().trim().min(1).max(200)).min(1).max(60),
  instructions: z.string().trim().min(1).max(10_000),
};
const createSchema = z.strictObject({ ...recipeFields, description: recipeFields.description.default(''), draft: z.boolean().default(false) });
const updateSchema = z
  .strictObject(recipeFields)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'nothing to update');

const publishSchema = z.strictObject({ ids: z.array(z.string().min(1).max(100)).min(1).max(1000).optional() });

export const listSchema = z.object({
  q: z.string().trim().max(100).optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

/** `Spicy Lentil Soup!` → `spicy-lentil-soup`. */
export function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
  return slug || 'recipe';
}

/** The slug of a title, with `-2`, `-3`... when another recipe has it. */
async function uniqueSlug(db: AppDb | AppTrx, title: string, exceptId?: string): Promise<string> {
  const base = slugify(title);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await recipes.slugTaken(db, candidate, exceptId))) return candidate;
  }
}

/**
 * The public catalogue, and the admin's create, update, publish and (soft) delete. Their row
 * changes are recorded by change capture (data/capture.ts); the services log only what a row
 * cannot say: a refused or invalid attempt.
 */
export function createRecipes(db: AppDb, activity: () => AppActivity) {
  return {
    /** Active, published recipes, by title, with search (`q` in title or description) and pagination. */
    async list(query: unknown): Promise<Page<Recipe>> {
      const { q, page, pageSize } = parseInput(listSchema, query);
      const { rows, total } = await recipes.searchActiveRecipes(db, { q, ...pageWindow(page, pageSize) });
      return { items: rows.map(recipes.toRecipe), page, pageSize, total };
    },

    /** One active, published recipe by id or slug; a deleted one or a draft is not found. */
    async get(idOrSlug: string): Promise<Recipe> {
      const row = await recipes.findRecipe(db, idOrSlug);
      if (!row || row.active !== 1 || row.published !== 1) throw new AppError('not_found', 'recipe_not_found', `no recipe ${JSON.stringify(idOrSlug)}`);
      return recipes.toRecipe(row);
    },

    /** How many drafts wait to be published (the admin's home page shows it). */
    countDrafts: () => recipes.countDrafts(db),

    /** A new recipe, published unless `draft: true` (then only admins see it until it is published). */
    async create(input: unknown): Promise<Recipe> {
      let fields: z.output<typeof createSchema>;
      try {
        fields = parseInput(createSchema, input);
      } catch (error) {
        activity().log({ action: 'recipe.create', status: 'failure', metadata: { reason: 'invalid_input' } });
        throw error;
      }
      const { draft, ...recipeFields } = fields;
      const now = new Date().toISOString();
      // Recorded by change capture as recipe.created, with every column, in this transaction.
      return inTransaction(db, async (trx) => {
        const recipe: Recipe = { id: randomUUID(), slug: await uniqueSlug(trx, fields.title), ...recipeFields, published: !draft, active: true, createdAt: now, updatedAt: now };
        await recipes.insertRecipe(trx, recipes.toRow(recipe));
        return recipe;
      });
    },

    /**
     * Updates the given fields; a new title gets a new slug. `updatedAt` is set, `createdAt`
     * kept. Recorded by change capture as recipe.updated, with the columns that changed.
     */
    async update(id: string, input: unknown): Promise<Recipe> {
      try {
        const patch = parseInput(updateSchema, input);
        return await inTransaction(db, async (trx) => {
          const row = await recipes.findRecipe(trx, id);
          if (!row || row.id !== id) throw new AppError('not_found', 'recipe_not_found', `no recipe ${JSON.stringify(id)}`);
          const before = recipes.toRecipe(row);
          const slug = patch.title !== undefined && patch.title !== before.title ? await uniqueSlug(trx, patch.title, id) : before.slug;
          const after: Recipe = { ...before, ...patch, slug, updatedAt: new Date().toISOString() };
          const { id: _id, created_at: _createdAt, ...changed } = recipes.toRow(after);
          await recipes.updateRecipe(trx, id, changed);
          return after;
        });
      } catch (error) {
        if (isAppError(error)) {
          activity().log({ action: 'recipe.update', status: 'failure', target: { type: 'recipe', id }, metadata: { reason: error.code } });
        }
        throw error;
      }
    },

    /**
     * Publishes drafts in one UPDATE statement: those named by `ids`, or all of them. Change
     * capture records one recipe.updated (`published: 0 → 1`) per recipe published.
     */
    async publish(input: unknown): Promise<{ published: string[] }> {
      let ids: string[] | undefined;
      try {
        ({ ids } = parseInput(publishSchema, input ?? {}));
      } catch (error) {
        activity().log({ action: 'recipe.publish', status: 'failure', metadata: { reason: 'invalid_input' } });
        throw error;
      }
      return { published: await recipes.publishDrafts(db, ids, new Date().toISOString()) };
    },

    /**
     * Soft delete: the recipe stays in the database, inactive, and leaves the public lists.
     * Recorded by change capture as recipe.updated with `active: 1 → 0`.
     */
    async remove(id: string): Promise<Recipe> {
      try {
        return await inTransaction(db, async (trx) => {
          const row = await recipes.findRecipe(trx, id);
          if (!row || row.id !== id || row.active !== 1) throw new AppError('not_found', 'recipe_not_found', `no active recipe ${JSON.stringify(id)}`);
          const after: Recipe = { ...recipes.toRecipe(row), active: false, updatedAt: new Date().toISOString() };
          await recipes.updateRecipe(trx, id, { active: 0, updated_at: after.updatedAt });
          return after;
        });
      } catch (error) {
        if (isAppError(error)) {
          activity().log({ action: 'recipe.delete', status: 'failure', target: { type: 'recipe', id }, metadata: { reason: error.code } });
        }
        throw error;
      }
    },
  };
}

export type Recipes = ReturnType<typeof createRecipes>;
