import { z } from 'zod';
import { inTransaction, type AppDb } from '../data/database.js';
import * as plans from '../data/plans.js';
import * as users from '../data/users.js';
import type { AppActivity } from './activity.js';
import { AppError, isAppError } from './errors.js';
import type { Page, Preferences, User } from './types.js';
import { pageWindow, parseInput } from './validation.js';

const isoDate = z
  .string()
  .trim()
  .refine((value) => /^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value)), 'must be an ISO date like 2026-01-31')
  .transform((value) => new Date(value).toISOString());

export const userListSchema = z.object({
  q: z.string().trim().max(100).optional(),
  signedUpFrom: isoDate.optional(),
  signedUpTo: isoDate.optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

export interface PlanStatus {
  status: 'none' | 'generated';
  planId?: string;
  weekStart?: string;
  meals?: number;
  generatedAt?: string;
}

export interface UserDetail {
  user: User;
  preferences: Preferences | null;
  plan: PlanStatus;
}

/**
 * The admin's view of users, and suspension. A suspension or reactivation is recorded by change
 * capture (user.updated, `status` before and after); refusals are logged here.
 */
export function createAdmin(db: AppDb, activity: () => AppActivity) {
  async function setStatus(admin: User, id: string, status: User['status']): Promise<User> {
    const action = status === 'suspended' ? 'admin.user.suspend' : 'admin.user.reactivate';
    try {
      if (id === admin.id) throw new AppError('conflict', 'cannot_change_self', 'admins cannot suspend or reactivate their own account');
      return await inTransaction(db, async (trx) => {
        const row = await users.findUserById(trx, id);
        if (!row) throw new AppError('not_found', 'user_not_found', `no user ${JSON.stringify(id)}`);
        if (row.status === status) throw new AppError('conflict', `already_${status}`, `the user is already ${status}`);
        const now = new Date().toISOString();
        // Recorded by change capture as user.updated with the status before and after.
        await users.setUserStatus(trx, id, status, now);
        return { ...users.toUser(row), status, updatedAt: now };
      });
    } catch (error) {
      if (isAppError(error)) activity().log({ action, status: 'failure', target: { type: 'user', id }, metadata: { reason: error.code } });
      throw error;
    }
  }

  return {
    /** Newest sign-ups first; `q` in name or email; `signedUpFrom` inclusive, `signedUpTo` exclusive. */
    async listUsers(query: unknown): Promise<Page<User>> {
      const { q, signedUpFrom, signedUpTo, page, pageSize } = parseInput(userListSchema, query);
      const { rows, total } = await users.searchUsers(db, { q, signedUpFrom, signedUpTo, ...pageWindow(page, pageSize) });
      return { items: rows.map(users.toUser), page, pageSize, total };
    },

    async getUser(id: string): Promise<UserDetail> {
      const row = await users.findUserById(db, id);
      if (!row) throw new AppError('not_found', 'user_not_found', `no user ${JSON.stringify(id)}`);
      const [preferences, plan] = await Promise.all([users.findPreferences(db, id), plans.latestPlan(db, id)]);
      return {
        user: users.toUser(row),
        preferences: preferences ? users.toPreferences(preferences) : null,
        plan: plan
          ? { status: 'generated', planId: plan.id, weekStart: plan.week_start, meals: plan.meal_count, generatedAt: plan.created_at }
          : { status: 'none' },
      };
    },

    suspend: (admin: User, id: string) => setStatus(admin, id, 'suspended'),
    reactivate: (admin: User, id: string) => setStatus(admin, id, 'active'),
  };
}

export type Admin = ReturnType<typeof createAdmin>;
