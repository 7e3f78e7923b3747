import { VIEWER_SCRIPT } from './client.js';
import { VIEWER_STYLES } from './styles.js';

/**
 * The Activity Logs page: one self-contained HTML document (markup, inline stylesheet and
 * inline script), served by the logs handler at its mount point when `viewer: true`. Nothing
 * is loaded from anywhere else, and the user's app needs no build step for it.
 *
 * The Content-Security-Policy allows exactly this page's script and stylesheet, by hash, and
 * nothing else: no other script, no inline event handler, no `javascript:` URL, no request
 * but to this origin. Markup injected through a logged value could not run even if escaping
 * failed somewhere; `require-trusted-types-for 'script'` makes `innerHTML` throw outright.
 */

const SHELL_BODY = `<header class="topbar">
  <div class="brand"><span class="logo" aria-hidden="true"></span><h1>Activity log</h1></div>
  <div class="exports">Export <a id="export-csv" download>CSV</a><a id="export-ndjson" download>NDJSON</a></div>
</header>
<main class="layout">
  <form id="filters" class="filters card" autocomplete="off" aria-label="Filters" novalidate>
    <label class="wide">Search <input type="search" id="f-search" placeholder="action, actor or target name" spellcheck="false"></label>
    <label class="more">From <input type="date" id="f-from" aria-describedby="range-error"> <span id="range-note" class="muted" hidden>(the last 7 days; empty both dates for all)</span></label>
    <label class="more">To <input type="date" id="f-to" aria-describedby="range-error"></label>
    <label class="more">Actor type <input id="f-actorType" list="actor-types" placeholder="any" spellcheck="false"></label>
    <datalist id="actor-types"><option value="user"></option><option value="admin"></option><option value="system"></option><option value="service"></option><option value="anonymous"></option></datalist>
    <label class="more">Actor id <input id="f-actorId" placeholder="any" spellcheck="false"></label>
    <label class="more">Action <input id="f-action" placeholder="recipe.update or recipe.*" spellcheck="false"></label>
    <label class="more">Status <select id="f-status"><option value="">any</option><option value="success">success</option><option value="failure">failure</option><option value="denied">denied</option></select></label>
    <label class="more">Request id <input id="f-requestId" placeholder="any" spellcheck="false"></label>
    <label class="more">Trace id <input id="f-traceId" placeholder="any" spellcheck="false"></label>
    <label class="more">Times in <select id="f-tz"><option value="local" id="zone-local">Local</option><option value="utc">UTC</option></select></label>
    <label class="check more"><input type="checkbox" id="f-reads" checked> Hide the log's own reads <span id="reads-note" class="muted" hidden>(shown: the action filter asks for them)</span></label>
    <div class="filter-actions"><button type="button" id="more-filters" class="more-toggle" aria-expanded="false">More filters</button><button type="button" id="verify" title="Check the hash chains of this time range">Verify</button><button type="button" id="clear">Clear</button><button type="submit" class="primary">Apply</button></div>
    <p id="range-error" class="field-error" role="alert" hidden></p>
    <p id="extra" class="extra" hidden></p>
  </form>
  <div class="content">
    <div id="error" class="error" role="alert" hidden></div>
    <p id="verify-result" class="verify-result" role="status" hidden></p>
    <section class="card chart-card" aria-labelledby="chart-title">
      <div class="card-head"><h2 id="chart-title">Events over time</h2><span id="chart-caption" class="muted"></span><div id="legend" class="legend"></div></div>
      <div id="chart" class="chart"></div>
    </section>
    <section class="card table-card" aria-label="Events">
      <div class="table-wrap">
        <table>
          <thead><tr><th scope="col">Time (<span class="zone-name">UTC</span>)</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Status</th></tr></thead>
          <tbody id="rows"></tbody>
        </table>
      </div>
      <p id="empty" class="empty" hidden>No activity matches these filters.</p>
      <nav class="pager" aria-label="Pages"><button id="prev" type="button" disabled>&larr; Previous</button><span id="page-label">Page 1</span><button id="next" type="button" disabled>Next &rarr;</button></nav>
    </section>
    <section id="history" class="card history-card" aria-labelledby="history-title" hidden>
      <div class="card-head"><button id="history-back" type="button">&larr; Back to the list</button><h2 id="history-title" tabindex="-1">History</h2><span id="history-caption" class="muted"></span></div>
      <ol id="history-items" class="timeline"></ol>
      <p id="history-empty" class="empty" hidden>No recorded changes for this target.</p>
      <nav class="pager" aria-label="More history"><span id="history-count" class="muted"></span><button id="history-more" type="button" hidden>Load more</button></nav>
    </section>
  </div>
  <aside id="detail" class="card detail" aria-label="Event details">
    <div class="card-head"><h2>Details</h2><button id="close-detail" class="close" type="button" aria-label="Close details">&times;</button></div>
    <div id="detail-body" class="detail-body"><p class="muted">Select an event to see its metadata, changes and context.</p></div>
  </aside>
</main>
<noscript><p class="empty">The activity log viewer needs JavaScript.</p></noscript>`;

/** The whole page. The same text on every request: the page carries no data of its own. */
export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>Activity log</title>
<link rel="icon" href="data:,">
<style>${VIEWER_STYLES}</style>
</head>
<body>
${SHELL_BODY}
<script>${VIEWER_SCRIPT}</script>
</body>
</html>
`;

let policy: Promise<string> | undefined;

/** The page's Content-Security-Policy, with the hashes of its inline script and stylesheet. */
export function viewerContentSecurityPolicy(): Promise<string> {
  policy ??= Promise.all([sha256(VIEWER_SCRIPT), sha256(VIEWER_STYLES)]).then(([script, style]) =>
    [
      "default-src 'none'",
      `script-src 'sha256-${script}'`,
      `style-src 'sha256-${style}'`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ].join('; '),
  );
  return policy;
}

/** The page as a response: HTML, never cached, never framed, under the strict policy. */
export async function viewerResponse(headOnly: boolean): Promise<Response> {
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': await viewerContentSecurityPolicy(),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    vary: 'accept',
  };
  return new Response(headOnly ? null : VIEWER_HTML, { status: 200, headers });
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  let binary = '';
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
