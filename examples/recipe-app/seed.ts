import { randomUUID } from 'node:crypto';
import type { RecipeAppConfig } from './config.js';
import { inTransaction, type AppDb, type AppTrx } from './data/database.js';
import * as recipes from './data/recipes.js';
import * as users from './data/users.js';
import { hashPassword } from './domain/passwords.js';
import { slugify } from './domain/recipes.js';
import type { Recipe } from './domain/types.js';

type SampleRecipe = Pick<Recipe, 'title' | 'description' | 'diet' | 'allergens' | 'calories' | 'ingredients' | 'instructions'>;

/** A dozen recipes across the four diets, so meal plans work (and fail) out of the box. */
export const SAMPLE_RECIPES: SampleRecipe[] = [
  { title: 'Chickpea Curry', description: 'A warming coconut curry.', diet: 'vegan', allergens: [], calories: 520, ingredients: ['chickpeas', 'coconut milk', 'tomatoes', 'onion', 'curry paste', 'rice'], instructions: 'Soften the onion, add paste, tomatoes, coconut milk and chickpeas; simmer 20 minutes; serve with rice.' },
  { title: 'Red Lentil Soup', description: 'Smooth, lemony and quick.', diet: 'vegan', allergens: ['celery'], calories: 380, ingredients: ['red lentils', 'carrot', 'celery', 'onion', 'lemon', 'cumin'], instructions: 'Simmer everything 25 minutes, blend, finish with lemon.' },
  { title: 'Peanut Noodle Bowl', description: 'Cold noodles in a spicy peanut sauce.', diet: 'vegan', allergens: ['peanuts', 'soy', 'gluten'], calories: 610, ingredients: ['wheat noodles', 'peanut butter', 'soy sauce', 'cucumber', 'chili oil'], instructions: 'Cook and chill the noodles; whisk the sauce; toss with cucumber.' },
  { title: 'Tofu Stir-Fry', description: 'Crispy tofu with vegetables.', diet: 'vegan', allergens: ['soy'], calories: 450, ingredients: ['tofu', 'broccoli', 'pepper', 'soy sauce', 'garlic', 'rice'], instructions: 'Fry the tofu until crisp, stir-fry the vegetables, combine with the sauce.' },
  { title: 'Margherita Pizza', description: 'Tomato, mozzarella and basil.', diet: 'vegetarian', allergens: ['gluten', 'milk'], calories: 700, ingredients: ['pizza dough', 'tomato sauce', 'mozzarella', 'basil'], instructions: 'Stretch the dough, top, bake at 250 °C for 8 minutes.' },
  { title: 'Mushroom Risotto', description: 'Creamy and earthy.', diet: 'vegetarian', allergens: ['milk'], calories: 560, ingredients: ['arborio rice', 'mushrooms', 'vegetable stock', 'parmesan', 'butter'], instructions: 'Toast the rice, add stock ladle by ladle, stir in mushrooms, butter and parmesan.' },
  { title: 'Spinach Omelette', description: 'A fast, light lunch.', diet: 'vegetarian', allergens: ['eggs', 'milk'], calories: 320, ingredients: ['eggs', 'spinach', 'feta', 'olive oil'], instructions: 'Wilt the spinach, pour in beaten eggs, add feta, fold.' },
  { title: 'Salmon with Greens', description: 'Roast salmon, greens and lemon.', diet: 'pescatarian', allergens: ['fish'], calories: 540, ingredients: ['salmon fillet', 'green beans', 'spinach', 'lemon', 'olive oil'], instructions: 'Roast the salmon 12 minutes; sauté the greens; serve with lemon.' },
  { title: 'Shrimp Tacos', description: 'With lime slaw.', diet: 'pescatarian', allergens: ['crustaceans', 'gluten'], calories: 480, ingredients: ['shrimp', 'tortillas', 'cabbage', 'lime', 'chili'], instructions: 'Sear the shrimp, dress the slaw, fill the tortillas.' },
  { title: 'Chicken Caesar Salad', description: 'The classic.', diet: 'omnivore', allergens: ['eggs', 'milk', 'fish', 'gluten'], calories: 590, ingredients: ['chicken breast', 'romaine', 'croutons', 'parmesan', 'caesar dressing'], instructions: 'Grill the chicken, toss the salad with dressing, top with chicken.' },
  { title: 'Beef Chili', description: 'Slow-cooked and smoky.', diet: 'omnivore', allergens: [], calories: 650, ingredients: ['ground beef', 'kidney beans', 'tomatoes', 'onion', 'chili powder'], instructions: 'Brown the beef, add the rest, simmer an hour.' },
  { title: 'Roast Chicken and Vegetables', description: 'One tray, one hour.', diet: 'omnivore', allergens: [], calories: 620, ingredients: ['chicken thighs', 'potatoes', 'carrots', 'onion', 'thyme'], instructions: 'Toss everything in oil and thyme, roast at 200 °C for 50 minutes.' },
];

/** Who the seeded rows are attributed to in the activity log. */
export const SEED_ACTOR = { type: 'system', id: 'recipe-app.seed', name: 'Seed data' } as const;

/**
 * First start: the admin account (from ADMIN_EMAIL / ADMIN_PASSWORD, or the defaults) and the
 * sample recipes, in one transaction. Later starts change nothing: the admin is matched by
 * email, and recipes are seeded only into an empty table.
 *
 * `attribute`, when given, is called first with the transaction: the app passes
 * `(trx) => activity.with({ actor: SEED_ACTOR }).changes(trx)`, so that the rows change capture
 * records are the seed's, not an anonymous `database` change.
 */
export async function seed(
  db: AppDb,
  admin: RecipeAppConfig['admin'],
  attribute?: (trx: AppTrx) => Promise<void>,
): Promise<{ adminCreated: boolean; recipesCreated: number }> {
  return inTransaction(db, async (trx) => {
    await attribute?.(trx);
    return seedIn(trx, admin);
  });
}

async function seedIn(db: AppTrx, admin: RecipeAppConfig['admin']): Promise<{ adminCreated: boolean; recipesCreated: number }> {
  const now = new Date().toISOString();
  let adminCreated = false;
  if (!(await users.findUserByEmail(db, admin.email))) {
    await users.insertUser(db, {
      id: randomUUID(),
      name: admin.name,
      email: admin.email,
      password_hash: await hashPassword(admin.password),
      role: 'admin',
      status: 'active',
      created_at: now,
      updated_at: now,
    });
    adminCreated = true;
  }
  let recipesCreated = 0;
  if ((await recipes.countRecipes(db)) === 0) {
    for (const sample of SAMPLE_RECIPES) {
      await recipes.insertRecipe(db, recipes.toRow({ id: randomUUID(), slug: slugify(sample.title), ...sample, published: true, active: true, createdAt: now, updatedAt: now }));
      recipesCreated++;
    }
  }
  return { adminCreated, recipesCreated };
}
