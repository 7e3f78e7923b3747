import { createHash } from 'node:crypto';
import type { User } from '../domain/types.js';

const STYLE = 'body{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}';

/**
 * The page's Content-Security-Policy: its one inline style by hash, no script at all, forms
 * posting only to this app, and no framing (clickjacking a login form is the classic attack).
 */
export const HOME_PAGE_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * The one HTML page of the reference server: a sign-in form, and links for a signed-in user;
 * for an admin, the drafts waiting and a button publishing them all. Everything else is the
 * JSON API.
 */
export function homePage(user: User | undefined, error?: string, admin?: { drafts: number }): string {
  const body = user
    ? `<p>Signed in as <strong>${escapeHtml(user.name)}</strong> (${escapeHtml(user.email)}, ${user.role}).</p>
<ul>
  <li><a href="/recipes">Recipes (JSON)</a></li>
  <li><a href="/me">My account (JSON)</a></li>
  ${user.role === 'admin' ? '<li><a href="/admin/logs">Activity Logs</a></li>\n  <li><a href="/admin/users">Users (JSON)</a></li>' : ''}
</ul>
${admin ? `<form method="post" action="/admin/recipes/publish"><p id="drafts">${admin.drafts === 1 ? '1 draft recipe' : `${admin.drafts} draft recipes`} waiting.</p><button${admin.drafts === 0 ? ' disabled' : ''}>Publish all drafts</button></form>\n` : ''}<form method="post" action="/auth/logout"><button>Log out</button></form>
<form method="post" action="/auth/logout/all"><button>Log out everywhere</button></form>`
    : `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/auth/login">
  <label>Email <input name="email" type="email" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Log in</button>
</form>
<p>The admin's email and password are printed by <code>npm start</code>.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recipe app</title>
<style>${STYLE}</style>
</head><body><h1>Recipe app</h1>
${body}
</body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
