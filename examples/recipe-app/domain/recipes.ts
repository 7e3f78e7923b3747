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
const createSchema = z.strictObject({ ...recipeFields, description: recipeFields.description.default('') });
const updateSchema = z
  .strictObject(recipeFields)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'nothing to update');

export const listSchema = z.object({
  q: z.string().trim().max(100).optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

type EditableRecipe = Pick<Recipe, 'title' | 'slug' | 'description' | 'diet' | 'allergens' | 'calories' | 'ingredients' | 'instructions'>;

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

function editable(recipe: Recipe): EditableRecipe {
  const { title, slug, description, diet, allergens, calories, ingredients, instructions } = recipe;
  return { title, slug, description, diet, allergens, calories, ingredients, instructions };
}

/** The public catalogue, and the admin's create, update and (soft) delete. */
export function createRecipes(db: AppDb, activity: () => AppActivity) {
  const target = (recipe: Pick<Recipe, 'id' | 'title'>) => ({ type: 'recipe', id: recipe.id, name: recipe.title });

  return {
    /** Active recipes, by title, with search (`q` in title or description) and pagination. */
    async list(query: unknown): Promise<Page<Recipe>> {
      const { q, page, pageSize } = parseInput(listSchema, query);
      const { rows, total } = await recipes.searchActiveRecipes(db, { q, ...pageWindow(page, pageSize) });
      return { items: rows.map(recipes.toRecipe), page, pageSize, total };
    },

    /** One active recipe by id or slug; a deleted one is not found. */
    async get(idOrSlug: string): Promise<Recipe> {
      const row = await recipes.findRecipe(db, idOrSlug);
      if (!row || row.active !== 1) throw new AppError('not_found', 'recipe_not_found', `no recipe ${JSON.stringify(idOrSlug)}`);
      return recipes.toRecipe(row);
    },

    async create(input: unknown): Promise<Recipe> {
      let fields: z.output<typeof createSchema>;
      try {
        fields = parseInput(createSchema, input);
      } catch (error) {
        activity().log({ action: 'recipe.create', status: 'failure', metadata: { reason: 'invalid_input' } });
        throw error;
      }
      const now = new Date().toISOString();
      // The recipe and its activity commit together, or neither does.
      return inTransaction(db, async (trx) => {
        const recipe: Recipe = { id: randomUUID(), slug: await uniqueSlug(trx, fields.title), ...fields, active: true, createdAt: now, updatedAt: now };
        await recipes.insertRecipe(trx, recipes.toRow(recipe));
        await activity().logInTransaction(trx, {
          action: 'recipe.create',
          target: target(recipe),
          metadata: { slug: recipe.slug },
          changes: { before: null, after: editable(recipe) },
        });
        return recipe;
      });
    },

    /** Updates the given fields; a new title gets a new slug. `updatedAt` is set, `createdAt` kept. */
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
          await activity().logInTransaction(trx, {
            action: 'recipe.update',
            target: target(after),
            metadata: { slug: after.slug },
            changes: { before: editable(before), after: editable(after) },
          });
          return after;
        });
      } catch (error) {
        if (isAppError(error)) {
          activity().log({ action: 'recipe.update', status: 'failure', target: { type: 'recipe', id }, metadata: { reason: error.code } });
        }
        throw error;
      }
    },

    /** Soft delete: the recipe stays in the database, inactive, and leaves the public lists. */
    async remove(id: string): Promise<Recipe> {
      try {
        return await inTransaction(db, async (trx) => {
          const row = await recipes.findRecipe(trx, id);
          if (!row || row.id !== id || row.active !== 1) throw new AppError('not_found', 'recipe_not_found', `no active recipe ${JSON.stringify(id)}`);
          const after: Recipe = { ...recipes.toRecipe(row), active: false, updatedAt: new Date().toISOString() };
          await recipes.updateRecipe(trx, id, { active: 0, updated_at: after.updatedAt });
          await activity().logInTransaction(trx, {
            action: 'recipe.delete',
            target: target(after),
            metadata: { slug: after.slug },
            changes: { before: { active: true }, after: { active: false } },
          });
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
