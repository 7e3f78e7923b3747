import { sql } from 'kysely';
import type { Recipe } from '../domain/types.js';
import { likePattern, type AppQueryable, type RecipeTable } from './database.js';

/** Data access for recipes. */

export function toRecipe(row: RecipeTable): Recipe {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    diet: row.diet as Recipe['diet'],
    allergens: JSON.parse(row.allergens) as string[],
    calories: row.calories,
    ingredients: JSON.parse(row.ingredients) as string[],
    instructions: row.instructions,
    published: row.published === 1,
    active: row.active === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toRow(recipe: Recipe): RecipeTable {
  return {
    id: recipe.id,
    slug: recipe.slug,
    title: recipe.title,
    description: recipe.description,
    diet: recipe.diet,
    allergens: JSON.stringify(recipe.allergens),
    calories: recipe.calories,
    ingredients: JSON.stringify(recipe.ingredients),
    instructions: recipe.instructions,
    published: recipe.published ? 1 : 0,
    active: recipe.active ? 1 : 0,
    created_at: recipe.createdAt,
    updated_at: recipe.updatedAt,
  };
}

export async function findRecipe(db: AppQueryable, idOrSlug: string): Promise<RecipeTable | undefined> {
  return db
    .selectFrom('recipes')
    .selectAll()
    .where(({ or, eb }) => or([eb('id', '=', idOrSlug), eb('slug', '=', idOrSlug)]))
    .executeTakeFirst();
}

export async function slugTaken(db: AppQueryable, slug: string, exceptId?: string): Promise<boolean> {
  let query = db.selectFrom('recipes').select('id').where('slug', '=', slug);
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export async function insertRecipe(db: AppQueryable, row: RecipeTable): Promise<void> {
  await db.insertInto('recipes').values(row).execute();
}

export async function updateRecipe(db: AppQueryable, id: string, row: Partial<RecipeTable>): Promise<void> {
  await db.updateTable('recipes').set(row).where('id', '=', id).execute();
}

export async function countDrafts(db: AppQueryable): Promise<number> {
  const row = await db
    .selectFrom('recipes')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('published', '=', 0)
    .where('active', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function countRecipes(db: AppQueryable): Promise<number> {
  const row = await db.selectFrom('recipes').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Publishes drafts in one UPDATE statement: those of `ids`, or every draft when `ids` is left
 * out. Deleted recipes stay as they are. Returns the ids published.
 */
export async function publishDrafts(db: AppQueryable, ids: readonly string[] | undefined, now: string): Promise<string[]> {
  let query = db.updateTable('recipes').set({ published: 1, updated_at: now }).where('published', '=', 0).where('active', '=', 1);
  if (ids) query = query.where('id', 'in', ids);
  const rows = await query.returning('id').execute();
  return rows.map((row) => row.id).sort();
}

/** The public catalogue: active, published recipes, by title; `q` matches the title or the description. */
export async function searchActiveRecipes(db: AppQueryable, search: { q?: string | undefined; limit: number; offset: number }) {
  let query = db.selectFrom('recipes').where('active', '=', 1).where('published', '=', 1);
  if (search.q) {
    const pattern = likePattern(search.q);
    query = query.where(({ or }) =>
      or([sql<boolean>`lower(title) like ${pattern} escape '\\'`, sql<boolean>`lower(description) like ${pattern} escape '\\'`]),
    );
  }
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('title').orderBy('id').limit(search.limit).offset(search.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function listActiveRecipes(db: AppQueryable): Promise<RecipeTable[]> {
  return db.selectFrom('recipes').selectAll().where('active', '=', 1).where('published', '=', 1).orderBy('title').orderBy('id').execute();
}
