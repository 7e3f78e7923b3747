import { sql } from 'kysely';
import type { Preferences, User } from '../domain/types.js';
import { likePattern, type AppQueryable, type PreferencesTable, type UserTable } from './database.js';

/** Data access for users, sessions and preferences. */

export function toUser(row: UserTable): User {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toPreferences(row: PreferencesTable): Preferences {
  return {
    diet: row.diet as Preferences['diet'],
    allergies: JSON.parse(row.allergies) as string[],
    caloriesPerDay: row.calories_per_day,
    mealsPerDay: row.meals_per_day,
    updatedAt: row.updated_at,
  };
}

export async function findUserByEmail(db: AppQueryable, email: string): Promise<UserTable | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(db: AppQueryable, id: string): Promise<UserTable | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertUser(db: AppQueryable, row: UserTable): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function setUserStatus(db: AppQueryable, id: string, status: UserTable['status'], now: string): Promise<void> {
  await db.updateTable('users').set({ status, updated_at: now }).where('id', '=', id).execute();
}

export async function insertSession(db: AppQueryable, tokenHash: string, userId: string, now: string): Promise<void> {
  await db.insertInto('sessions').values({ token_hash: tokenHash, user_id: userId, created_at: now, last_seen_at: now }).execute();
}

/** The user of a session, with the session's times. */
export async function findSessionUser(
  db: AppQueryable,
  tokenHash: string,
): Promise<(UserTable & { session_created_at: string; session_last_seen_at: string }) | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('users')
    .select(['sessions.created_at as session_created_at', 'sessions.last_seen_at as session_last_seen_at'])
    .where('sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function touchSession(db: AppQueryable, tokenHash: string, now: string): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: now }).where('token_hash', '=', tokenHash).execute();
}

export async function deleteSession(db: AppQueryable, tokenHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
}

/** Ends every session of a user; returns how many there were. */
export async function deleteSessionsOfUser(db: AppQueryable, userId: string): Promise<number> {
  const result = await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}

export async function findPreferences(db: AppQueryable, userId: string): Promise<PreferencesTable | undefined> {
  return db.selectFrom('preferences').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function upsertPreferences(db: AppQueryable, row: PreferencesTable): Promise<void> {
  const { user_id: _userId, ...rest } = row;
  await db
    .insertInto('preferences')
    .values(row)
    .onConflict((oc) => oc.column('user_id').doUpdateSet(rest))
    .execute();
}

export interface UserSearch {
  q?: string | undefined;
  signedUpFrom?: string | undefined;
  signedUpTo?: string | undefined;
  limit: number;
  offset: number;
}

/** Newest sign-ups first; `signedUpFrom` inclusive, `signedUpTo` exclusive. */
export async function searchUsers(db: AppQueryable, search: UserSearch): Promise<{ rows: UserTable[]; total: number }> {
  let query = db.selectFrom('users');
  if (search.q) {
    const pattern = likePattern(search.q);
    query = query.where(({ or }) =>
      or([sql<boolean>`lower(name) like ${pattern} escape '\\'`, sql<boolean>`lower(email) like ${pattern} escape '\\'`]),
    );
  }
  if (search.signedUpFrom) query = query.where('created_at', '>=', search.signedUpFrom);
  if (search.signedUpTo) query = query.where('created_at', '<', search.signedUpTo);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(search.limit).offset(search.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
