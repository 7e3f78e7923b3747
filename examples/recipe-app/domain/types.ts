/** The app's domain objects, as the services hand them out (no password hashes). */

export const DIETS = ['omnivore', 'pescatarian', 'vegetarian', 'vegan'] as const;
export type Diet = (typeof DIETS)[number];

export interface User {
  id: string;
  name: string;
  email: string;
  role: 'user' | 'admin';
  status: 'active' | 'suspended';
  createdAt: string;
  updatedAt: string;
}

export interface Preferences {
  diet: Diet;
  allergies: string[];
  caloriesPerDay: number;
  mealsPerDay: number;
  updatedAt: string;
}

export interface Recipe {
  id: string;
  slug: string;
  title: string;
  description: string;
  /** The strictest diet the recipe fits: a vegan recipe fits every diet. */
  diet: Diet;
  allergens: string[];
  /** Per serving. */
  calories: number;
  ingredients: string[];
  instructions: string;
  /** False for a draft: only admins see it until it is published. */
  published: boolean;
  /** False once deleted (a soft delete). */
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface PlannedMeal {
  slot: number;
  recipeId: string;
  slug: string;
  title: string;
  calories: number;
}

export interface MealPlan {
  id: string;
  userId: string;
  weekStart: string;
  days: { date: string; meals: PlannedMeal[] }[];
  mealCount: number;
  createdAt: string;
}

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}
