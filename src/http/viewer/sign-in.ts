/**
 * What a browser gets from the admin mount when `authorize` refuses it and the app gave no
 * `onUnauthorized`: a short page saying that the log needs a signed-in reader, not the JSON
 * an API client gets. No script, no style, no link to follow: it cannot be made to do
 * anything, whatever the URL held.
 */
const SIGN_IN_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Sign in to read the activity log</title>
</head>
<body>
<main>
<h1>Sign in first</h1>
<p>The activity log is only shown to people allowed to read it. Sign in to this app with such an account, then open this page again.</p>
</main>
</body>
</html>
`;

/** The refusal page for a browser: 403, never cached, under a policy that allows nothing. */
export function signInRequiredResponse(headOnly: boolean): Response {
  return new Response(headOnly ? null : SIGN_IN_HTML, {
    status: 403,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      vary: 'accept',
    },
  });
}
