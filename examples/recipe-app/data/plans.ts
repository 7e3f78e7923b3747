import type { MealPlan } from '../domain/types.js';
import type { AppDb, AppTrx, MealPlanTable } from './database.js';

/** Data access for meal plans. */

type Db = AppDb | AppTrx;

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

export async function insertPlan(db: Db, plan: MealPlan): Promise<void> {
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

export async function latestPlan(db: Db, userId: string): Promise<MealPlanTable | undefined> {
  return db
    .selectFrom('meal_plans')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}
