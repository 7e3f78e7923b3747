/**
 * Keeping the passwords of database URLs out of everything the CLI prints. A `--db` value (or
 * `ACTIVITY_LOG_DB`) may carry a password in its user part (`postgres://app:pw@db/app`) or in
 * a parameter (`?password=pw`); an operator's message, a driver's error or commander's usage
 * error may quote it, mistyped or not (`postgress://app:pw@db`, a URL given without `--db`).
 * So the URL is shown with its passwords as `***`, and every message passes through
 * `hideSecrets`, which also takes out a password quoted on its own.
 */

/** Parameters whose value is a secret: `password`, `sslpassword`, `pass`, `pwd`, `secret`, `token`, `key`. */
const SECRET_PARAMETER = /^(?:[a-z_]*pass(?:word)?|pwd|[a-z_]*secret|[a-z_]*token|[a-z_]*key)$/i;

interface Parts {
  /** `scheme://` or nothing. */
  head: string;
  /** `user` of `user:password@`, undefined when there is no password. */
  user?: string;
  password?: string;
  /** What follows the user part: host, path and parameters. */
  rest: string;
}

/**
 * A URL-like value cut at its user part. The user part ends at the last `@`, so a password
 * holding an `@`, a `/` or a `?` that was not percent-encoded is still all of it (an `@` in a
 * parameter then hides more than the password: hiding too much is the safe way to be wrong).
 */
function split(value: string): Parts {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value);
  const head = scheme ? scheme[0] : '';
  const body = value.slice(head.length);
  const at = body.lastIndexOf('@');
  if (at < 0) return { head, rest: body };
  const userinfo = body.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { head: head + userinfo + '@', rest: body.slice(at + 1) };
  return { head, user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1), rest: body.slice(at + 1) };
}

/** The values of the secret parameters after the first `?` of `rest`. */
function secretParameters(rest: string): string[] {
  const query = rest.indexOf('?');
  if (query < 0) return [];
  const values: string[] = [];
  for (const pair of rest.slice(query + 1).split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && SECRET_PARAMETER.test(pair.slice(0, eq)) && eq < pair.length - 1) values.push(pair.slice(eq + 1));
  }
  return values;
}

/**
 * `value` as it may be shown: the password of its user part and the values of its secret
 * parameters as `***` (`postgres://app:***@db/app?sslpassword=***`). Anything else is kept,
 * so that the operator can see which database was meant.
 */
export function withoutPassword(value: string): string {
  const parts = split(value);
  let rest = parts.rest;
  const query = rest.indexOf('?');
  if (query >= 0) {
    const hidden = rest
      .slice(query + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        return eq > 0 && SECRET_PARAMETER.test(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=***` : pair;
      });
    rest = `${rest.slice(0, query + 1)}${hidden.join('&')}`;
  }
  return parts.password === undefined ? parts.head + rest : `${parts.head}${parts.user}:***@${rest}`;
}

/** The passwords `value` holds, as written and percent-decoded. */
function passwordsOf(value: string): string[] {
  const parts = split(value);
  const raw = [...(parts.password ? [parts.password] : []), ...secretParameters(parts.rest)];
  const found = new Set<string>();
  for (const password of raw) {
    found.add(password);
    try {
      found.add(decodeURIComponent(password));
    } catch {
      // Not valid percent-encoding: only the text as written can appear.
    }
  }
  return [...found];
}

/**
 * `text` with every value of `sources` that holds a password shown as `withoutPassword`
 * shows it, and each of those passwords, quoted on its own, as `***`. A password of fewer than
 * four characters is only hidden inside its URL: replacing every `a` of a message would leave
 * nothing readable, and a password that short is no secret.
 */
export function hideSecrets(text: string, sources: readonly (string | undefined)[]): string {
  let shown = text;
  for (const source of sources) {
    if (!source) continue;
    const passwords = passwordsOf(source);
    if (passwords.length === 0) continue;
    shown = shown.split(source).join(withoutPassword(source));
    for (const password of passwords.sort((a, b) => b.length - a.length)) if (password.length >= 4) shown = shown.split(password).join('***');
  }
  return shown;
}
