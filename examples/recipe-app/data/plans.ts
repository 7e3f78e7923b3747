import type { MealPlan } from '../domain/types.js';
import type { AppQueryable, MealPlanTable } from './database.js';

/** Data access for meal plans. */

export function toPlan(row: MealPlanTable): MealPlan {
  return {
    id: row.id,
    userId: row.user_id,
    weekStart: row.week_start,
    days: JSON.parse(row.days) as MealPlan['days'],
    mealCount: row.meal_count,
    createdAt: row.created_at,
  };
}

export async function insertPlan(db: AppQueryable, plan: MealPlan): Promise<void> {
  await db
    .insertInto('meal_plans')
    .values({
      id: plan.id,
      user_id: plan.userId,
      week_start: plan.weekStart,
      days: JSON.stringify(plan.days),
      meal_count: plan.mealCount,
      created_at: plan.createdAt,
    })
    .execute();
}

export async function latestPlan(db: AppQueryable, userId: string): Promise<MealPlanTable | undefined> {
  return db
    .selectFrom('meal_plans')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}
