/**
 * Credential-shaped text inside a string, found by its shape rather than by the key it is
 * stored under: an error message `Authorization: Bearer abc123`, a URL with `?access_token=`,
 * a JWT pasted into a note. Each rule replaces only the secret part, so the rest of the text
 * still says what happened:
 *
 * | shape | example | stored as |
 * | --- | --- | --- |
 * | a header line with a sensitive name | `Authorization: Basic dXNlcjpwdw==` | `Authorization: [REDACTED]` |
 * | a JSON member with a sensitive name | `{"password":"x","user":"bob"}` | `{"password":"[REDACTED]","user":"bob"}` |
 * | a parameter with a sensitive name | `/cb?code=1&access_token=abc` | `/cb?code=1&access_token=[REDACTED]` |
 * | the password of a URL | `postgres://app:pw@db/app` | `postgres://app:[REDACTED]@db/app` |
 * | a Bearer credential (not a word: "bearer bonds" stays) | `Bearer abc123` | `Bearer [REDACTED]` |
 * | a Basic credential (not a word: "Basic Plan" stays) | `Basic dXNlcjpwdw==` | `Basic [REDACTED]` |
 * | a JWT | `eyJhbGciOi….eyJzdWIiOi….sig` | `[REDACTED]` |
 *
 * "Sensitive name" is the redactor's own key rule (the default terms and words, and the user's
 * keys), so `password=`, `api_key=`, `"sessionId":` and `X-Auth-Token:` are all caught.
 *
 * This runs on every stored string, in the flusher: a string without `=`, `:`, `@` or one of
 * the scheme names is passed over after one cheap test, and a string that holds nothing to
 * hide is returned as the same string.
 *
 * Every rule takes time linear in the string's length, whatever the string: the strings are
 * the app's users' (a comment, a search, a profile column recorded by change capture), are not
 * capped before redaction, and a rule that reads the rest of the string again from each
 * candidate start would let one long value hold the event loop for seconds.
 */

/** A fast first test: a string that fails it cannot match any rule below. */
const MAY_HOLD_CREDENTIAL = /[=:@]|bearer|basic|eyJ/i;

const HEADER_LINE = /(^|\n)([ \t]*)([A-Za-z][A-Za-z0-9_-]{0,99})([ \t]*:[ \t]*)([^\r\n]+)/g;
const JSON_STRING_MEMBER = /"((?:[^"\\]|\\.){1,100})"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
const JSON_SCALAR_MEMBER = /"((?:[^"\\]|\\.){1,100})"(\s*:\s*)(-?\d[\d.eE+-]*|true|false)\b/g;
const PARAMETER = /(^|[?&;,\s])([A-Za-z0-9_.\-[\]%]{1,100})=([^&#\s;,]+)/g;
// The scheme is at most 32 characters, so that a long run of scheme characters ("a.a.a.a…")
// is not scanned again from each of its word boundaries; after "://" a candidate stops at the
// next "/" or blank, so no two candidates scan the same text.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,31}:\/\/[^\s/:@]*:)([^\s/@]+)@/gi;
const BEARER = /\b(bearer)(\s+)([A-Za-z0-9\-._~+/]+=*)/gi;
const BASIC = /\b(basic)(\s+)([A-Za-z0-9+/]+=*)/gi;
// The two dotted parts are optional so that a candidate without them ("eyJ-eyJ-eyJ…") still
// matches its whole run and is passed over in one step: required, they made the search start
// again at every "eyJ" of the run and read it to its end each time. Only a match with the dotted
// parts (group 1) is a JWT.
const JWT = /\beyJ[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)?/g;

/**
 * `text` with every credential-shaped part replaced by `censor`; the same string when there is
 * none. `isSensitiveName` decides which names (of headers, parameters, JSON members) hide their
 * value.
 */
export function redactCredentialsIn(text: string, censor: string, isSensitiveName: (name: string) => boolean): string {
  if (text.length < 6 || !MAY_HOLD_CREDENTIAL.test(text)) return text;
  let out = text;
  if (out.includes(':')) {
    out = out.replace(HEADER_LINE, (whole, start: string, indent: string, name: string, separator: string, value: string) =>
      isSensitiveName(name) && value !== censor ? `${start}${indent}${name}${separator}${censor}` : whole,
    );
    if (out.includes('"')) {
      out = out.replace(JSON_STRING_MEMBER, (whole, name: string, separator: string) =>
        isSensitiveName(name) ? `"${name}"${separator}${JSON.stringify(censor)}` : whole,
      );
      out = out.replace(JSON_SCALAR_MEMBER, (whole, name: string, separator: string) =>
        isSensitiveName(name) ? `"${name}"${separator}${JSON.stringify(censor)}` : whole,
      );
    }
    if (out.includes('@')) out = out.replace(URL_PASSWORD, (_whole, head: string) => `${head}${censor}@`);
  }
  if (out.includes('=')) {
    out = out.replace(PARAMETER, (whole, start: string, name: string, value: string) =>
      value !== censor && isSensitiveName(name) ? `${start}${name}=${censor}` : whole,
    );
  }
  out = out.replace(BEARER, (whole, scheme: string, space: string, token: string) =>
    token !== censor && isNotAWord(token.replace(/\.+$/, '')) ? `${scheme}${space}${censor}` : whole,
  );
  out = out.replace(BASIC, (whole, scheme: string, space: string, token: string) =>
    looksLikeBasicCredential(token) ? `${scheme}${space}${censor}` : whole,
  );
  if (out.includes('eyJ')) out = out.replace(JWT, (whole, dotted: string | undefined) => (dotted ? censor : whole));
  return out === text ? text : out;
}

/**
 * `Basic` is also an English word ("basic plan", "Basic Plan", "Basic French"), so what
 * follows it is hidden only when it looks like base64 credentials: it is not a word of prose
 * (see {@link isNotAWord}), or it decodes to `user:password`.
 */
function looksLikeBasicCredential(token: string): boolean {
  if (token.length < 4) return false;
  if (isNotAWord(token)) return true;
  try {
    return atob(token).includes(':');
  } catch {
    return false;
  }
}

/**
 * Whether a token after `Bearer` or `Basic` reads as a credential rather than a word of prose
 * ("bearer bonds", "Basic Plan", a tenant named "Basic School"): it has a digit or one of
 * `-._~+/=`, an upper-case letter after a lower-case one (`AbCd`; not `Plan` or `PLAN`), or 20
 * characters or more. A random token of any useful length has one of these; a word has none.
 */
function isNotAWord(token: string): boolean {
  return token.length >= 20 || /[0-9\-._~+/=]/.test(token) || /[a-z][A-Z]/.test(token);
}
