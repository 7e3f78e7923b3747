import { randomUUID } from 'node:crypto';
import type { AppDb } from '../data/database.js';
import * as plans from '../data/plans.js';
import * as recipes from '../data/recipes.js';
import * as users from '../data/users.js';
import type { AppActivity } from './activity.js';
import { AppError } from './errors.js';
import type { Diet, MealPlan, Preferences, Recipe, User } from './types.js';

/** Days in a plan, and the different recipes a plan needs: one new dish every day of the week. */
export const PLAN_DAYS = 7;
export const MIN_RECIPES_PER_PLAN = 7;
/** A recipe fits a meal when it has at most this much more than an even share of the day's calories. */
export const CALORIE_TOLERANCE = 1.2;

/** Which recipe diets each diet eats: a vegan recipe suits everyone. */
const EATS: Record<Diet, readonly Diet[]> = {
  omnivore: ['omnivore', 'pescatarian', 'vegetarian', 'vegan'],
  pescatarian: ['pescatarian', 'vegetarian', 'vegan'],
  vegetarian: ['vegetarian', 'vegan'],
  vegan: ['vegan'],
};

export function maxCaloriesPerMeal(preferences: Preferences): number {
  return Math.floor((preferences.caloriesPerDay / preferences.mealsPerDay) * CALORIE_TOLERANCE);
}

export function fits(recipe: Recipe, preferences: Preferences): boolean {
  return (
    EATS[preferences.diet].includes(recipe.diet) &&
    !recipe.allergens.some((allergen) => preferences.allergies.includes(allergen)) &&
    recipe.calories <= maxCaloriesPerMeal(preferences)
  );
}

/** Weekly meal plans from the active recipes that fit the user's preferences. */
export function createPlans(db: AppDb, activity: () => AppActivity) {
  const fail = (user: User, code: string, message: string, metadata: { fitting?: number; needed?: number } = {}) => {
    activity().log({ action: 'plan.generate', status: 'failure', target: { type: 'user', id: user.id, name: user.name }, metadata: { ...metadata, reason: code } });
    return new AppError('unprocessable', code, message, Object.keys(metadata).length > 0 ? metadata : undefined);
  };

  return {
    async generate(user: User): Promise<MealPlan> {
      const preferencesRow = await users.findPreferences(db, user.id);
      if (!preferencesRow) {
        throw fail(user, 'preferences_required', 'fill in your preferences (PUT /me/preferences) before generating a meal plan');
      }
      const preferences = users.toPreferences(preferencesRow);
      const fitting = (await recipes.listActiveRecipes(db)).map(recipes.toRecipe).filter((recipe) => fits(recipe, preferences));
      if (fitting.length < MIN_RECIPES_PER_PLAN) {
        const avoid = preferences.allergies.length > 0 ? `, without ${preferences.allergies.join(', ')}` : '';
        throw fail(
          user,
          'not_enough_recipes',
          `only ${fitting.length} active ${fitting.length === 1 ? 'recipe fits' : 'recipes fit'} your preferences (${preferences.diet}${avoid}, at most ${maxCaloriesPerMeal(preferences)} kcal per meal); a weekly plan needs at least ${MIN_RECIPES_PER_PLAN} different recipes. Relax your preferences and try again.`,
          { fitting: fitting.length, needed: MIN_RECIPES_PER_PLAN },
        );
      }
      const start = new Date();
      start.setUTCHours(0, 0, 0, 0);
      let slot = 0;
      const days = Array.from({ length: PLAN_DAYS }, (_, day) => {
        const date = new Date(start.getTime() + day * 86_400_000).toISOString().slice(0, 10);
        const meals = Array.from({ length: preferences.mealsPerDay }, () => {
          // Walk the fitting recipes in a rotation: no dish twice in a row, every dish used.
          const recipe = fitting[slot % fitting.length]!;
          return { slot: slot++, recipeId: recipe.id, slug: recipe.slug, title: recipe.title, calories: recipe.calories };
        });
        return { date, meals };
      });
      const plan: MealPlan = {
        id: randomUUID(),
        userId: user.id,
        weekStart: days[0]!.date,
        days,
        mealCount: slot,
        createdAt: new Date().toISOString(),
      };
      await plans.insertPlan(db, plan);
      activity().log({
        action: 'plan.generate',
        target: { type: 'meal_plan', id: plan.id },
        metadata: { weekStart: plan.weekStart, meals: plan.mealCount, recipes: Math.min(fitting.length, plan.mealCount), fitting: fitting.length },
      });
      return plan;
    },

    async current(user: User): Promise<MealPlan> {
      const row = await plans.latestPlan(db, user.id);
      if (!row) throw new AppError('not_found', 'plan_not_found', 'no meal plan yet: generate one with POST /plans');
      return plans.toPlan(row);
    },
  };
}

export type Plans = ReturnType<typeof createPlans>;
