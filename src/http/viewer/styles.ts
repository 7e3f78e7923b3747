/**
 * The viewer's stylesheet, inlined into the page and allowed by its hash in the page's
 * Content-Security-Policy. Colours per status live in one place (the custom properties).
 */
export const VIEWER_STYLES = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f5f6f8;
  --card: #ffffff;
  --text: #1d2330;
  --muted: #5b6478;
  --line: #e4e7ec;
  --hover: #f2f4f7;
  --accent: #3b5bdb;
  --accent-text: #ffffff;
  --selected: #eef2ff;
  --success: #2f9e44;
  --success-ink: #15692e;
  --success-bg: #e6f6ea;
  --failure: #e03131;
  --failure-ink: #b42318;
  --failure-bg: #fdecec;
  --denied: #e8890c;
  --denied-ink: #9a4a00;
  --denied-bg: #fff3e0;
  --code-bg: #f7f8fa;
  --shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 1px 3px rgba(16, 24, 40, 0.08);
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1218;
    --card: #171b23;
    --text: #e6e8ee;
    --muted: #98a2b3;
    --line: #2a303b;
    --hover: #1e232d;
    --accent: #6e8bff;
    --accent-text: #0f1218;
    --selected: #1f2740;
    --success: #51cf66;
    --success-ink: #51cf66;
    --success-bg: #16301d;
    --failure: #ff6b6b;
    --failure-ink: #ff6b6b;
    --failure-bg: #3a1a1c;
    --denied: #ffa94d;
    --denied-ink: #ffa94d;
    --denied-bg: #3a2812;
    --code-bg: #11151c;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  background: var(--bg);
  color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
h1, h2, h3 { margin: 0; font-weight: 600; }
h1 { font-size: 18px; }
h2 { font-size: 14px; }
h3 { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); margin: 16px 0 6px; }
.muted { color: var(--muted); }
.topbar {
  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px 16px;
  padding: 14px 24px; background: var(--card); border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: center; gap: 10px; }
.logo {
  width: 22px; height: 22px; border-radius: 6px;
  background: linear-gradient(135deg, var(--accent), var(--success));
}
.exports { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px; }
.exports a {
  color: var(--accent); text-decoration: none; padding: 4px 10px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--card);
}
.exports a:hover { background: var(--hover); }
.layout {
  display: grid; gap: 16px; padding: 16px 24px 32px;
  grid-template-columns: minmax(0, 1fr) 380px;
  grid-template-areas: "filters filters" "content detail";
  align-items: start;
}
@media (max-width: 1100px) {
  .layout { grid-template-columns: minmax(0, 1fr); grid-template-areas: "filters" "content" "detail"; }
}
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; box-shadow: var(--shadow); }
.card-head { display: flex; align-items: center; gap: 12px; padding: 12px 16px; border-bottom: 1px solid var(--line); }
.filters {
  grid-area: filters; display: flex; flex-wrap: wrap; align-items: flex-end; gap: 12px; padding: 12px 16px;
}
.filters label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--muted); font-weight: 500; }
.filters input, .filters select {
  font: inherit; color: var(--text); background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 0 8px; height: 34px; min-width: 0;
}
.filters input[type="date"] { width: 150px; }
#f-actorType, #f-actorId, #f-requestId, #f-traceId { width: 130px; }
#f-action { width: 200px; }
#f-search { width: 240px; }
.filters label.check { flex-direction: row; align-items: center; gap: 6px; height: 34px; color: var(--text); font-size: 13px; }
.filters label.check input { height: auto; width: auto; }
.field-error { flex-basis: 100%; margin: 0; color: var(--failure-ink); font-size: 13px; font-weight: 500; }
.field-error[hidden] { display: none; }
.filters input[aria-invalid="true"] { border-color: var(--failure); }
.filters input:focus, .filters select:focus, button:focus-visible, tr:focus-visible {
  outline: 2px solid var(--accent); outline-offset: 1px;
}
.filter-actions { display: flex; gap: 8px; margin-left: auto; }
.more-toggle { display: none; }
button {
  font: inherit; color: var(--text); background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 0 14px; height: 34px; cursor: pointer;
}
button:hover:not(:disabled) { background: var(--hover); }
button:disabled { opacity: 0.45; cursor: default; }
button.primary { background: var(--accent); color: var(--accent-text); border-color: var(--accent); }
button.primary:hover:not(:disabled) { background: var(--accent); filter: brightness(1.08); }
.extra { flex-basis: 100%; margin: 0; display: flex; flex-wrap: wrap; gap: 6px; font-size: 12px; color: var(--muted); }
.detail-actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 16px 0 0; }
.detail-actions button { font-size: 12px; padding: 0 10px; height: 28px; }
.chip {
  display: inline-flex; align-items: center; gap: 6px; padding: 2px 4px 2px 8px; border-radius: 999px;
  background: var(--selected); color: var(--text); font-size: 12px;
}
.chip button { border: 0; background: transparent; padding: 0 4px; height: auto; line-height: 1; color: var(--muted); }
.error {
  padding: 10px 14px; border-radius: 8px; background: var(--failure-bg);
  color: var(--failure-ink); border: 1px solid var(--failure);
}
.verify-result { margin: 0; padding: 10px 14px; border-radius: 8px; border: 1px solid var(--line); background: var(--card); }
.verify-result.verified, .integrity.verified { color: var(--success-ink); }
.verify-result.verified { background: var(--success-bg); border-color: var(--success); }
.verify-result.tampered, .integrity.tampered { color: var(--failure-ink); }
.verify-result.tampered { background: var(--failure-bg); border-color: var(--failure); }
.error[hidden] { display: none; }
.content { grid-area: content; display: flex; flex-direction: column; gap: 16px; min-width: 0; }
.chart { padding: 8px 16px 12px; min-height: 60px; }
.chart svg { display: block; max-width: 100%; height: auto; }
.chart .axis { fill: var(--muted); font-size: 10px; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .bar { cursor: pointer; }
.chart .bar:hover rect { filter: brightness(1.12); }
.chart .seg-success { fill: var(--success); }
.chart .seg-failure { fill: var(--failure); }
.chart .seg-denied { fill: var(--denied); }
.chart-note { margin: 8px 0; color: var(--muted); }
.card-head { flex-wrap: wrap; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-left: auto; font-size: 12px; color: var(--muted); }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.swatch { width: 10px; height: 10px; border-radius: 3px; display: inline-block; }
.swatch-success { background: var(--success); }
.swatch-failure { background: var(--failure); }
.swatch-denied { background: var(--denied); }
.table-card { overflow: hidden; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th {
  text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); padding: 10px 16px;
  border-bottom: 1px solid var(--line); background: var(--card); white-space: nowrap;
}
/* "Time (America/Argentina/Buenos_Aires)" is wider than the times under it: it wraps. */
.table-wrap th:first-child { white-space: normal; overflow-wrap: anywhere; }
td { padding: 9px 16px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: var(--hover); }
tbody tr.selected { background: var(--selected); }
tbody tr:last-child td { border-bottom: 0; }
/* The date, the time and the zone may go on lines of their own when the row needs the room. */
.col-time { font-variant-numeric: tabular-nums; color: var(--muted); }
.tz { font-size: 11px; color: var(--muted); }
.when { white-space: nowrap; }
.id { font-family: var(--mono); font-size: 12px; white-space: nowrap; }
.id-copy { display: inline-flex; align-items: center; gap: 6px; flex-wrap: wrap; max-width: 100%; }
.id.full-on-focus { position: relative; border-radius: 4px; cursor: default; }
.id.full-on-focus:hover::after, .id.full-on-focus:focus::after {
  content: attr(data-full); position: absolute; left: 0; top: calc(100% + 4px); z-index: 5;
  width: max-content; max-width: min(300px, 80vw); white-space: normal; overflow-wrap: anywhere;
  padding: 3px 7px; border-radius: 4px; background: var(--text); color: var(--card); box-shadow: var(--shadow);
}
.id.full-on-focus:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
button.copy { height: 24px; padding: 0 8px; font-size: 12px; }
.col-action { font-family: var(--mono); font-size: 13px; }
/*
 * A long value (a route template, an email as a name, a URL as a target's name) breaks inside
 * itself rather than widening its column past the table's box, which would push Target and
 * Status out of sight. The minimum width keeps short names whole: only what is longer breaks.
 */
.primary-text { display: block; overflow-wrap: anywhere; min-width: 9ch; }
.secondary-text { display: block; font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
/* "user · 01a2...9c2e" keeps the short id whole (.id); the type goes on a line of its own only
   when the table has no room for both, rather than pushing Status out of sight. */
.badge {
  display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600;
  border: 1px solid transparent; text-transform: lowercase;
}
.badge-success { color: var(--success-ink); background: var(--success-bg); border-color: var(--success); }
.badge-failure { color: var(--failure-ink); background: var(--failure-bg); border-color: var(--failure); }
.badge-denied { color: var(--denied-ink); background: var(--denied-bg); border-color: var(--denied); }
.badge-other { color: var(--muted); background: var(--hover); border-color: var(--line); }
.empty { padding: 28px 16px; margin: 0; text-align: center; color: var(--muted); }
.empty[hidden] { display: none; }
.pager {
  display: flex; align-items: center; justify-content: flex-end; gap: 12px; padding: 10px 16px;
  border-top: 1px solid var(--line); color: var(--muted);
}
.busy .table-card table, .busy .chart { opacity: 0.55; transition: opacity 0.15s; }
.detail { grid-area: detail; position: sticky; top: 16px; max-height: calc(100vh - 32px); overflow: auto; }
.detail .close { margin-left: auto; padding: 0 10px; height: 28px; }
.detail-body { padding: 4px 16px 16px; }
.detail-title { display: flex; align-items: center; gap: 10px; margin: 12px 0 4px; font-family: var(--mono); font-size: 14px; overflow-wrap: anywhere; }
dl.fields { display: grid; grid-template-columns: 90px minmax(0, 1fr); gap: 6px 12px; margin: 12px 0 0; }
dl.fields dt { color: var(--muted); font-size: 12px; padding-top: 1px; }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
.mono { font-family: var(--mono); font-size: 12px; }
pre.json {
  margin: 0; padding: 10px 12px; background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px;
  font: 12px/1.5 var(--mono); white-space: pre-wrap; overflow-wrap: anywhere; max-height: 320px; overflow: auto;
}
table.changes { font-size: 12px; border: 1px solid var(--line); border-radius: 6px; }
table.changes th, table.changes td { padding: 6px 8px; font-family: var(--mono); overflow-wrap: anywhere; }
table.changes th { font-family: inherit; }
table.changes td:first-child { white-space: nowrap; overflow-wrap: normal; color: var(--text); }
table.changes td.before { color: var(--failure-ink); }
table.changes td.after { color: var(--success-ink); }
.error-box { padding: 8px 12px; border-radius: 6px; background: var(--failure-bg); color: var(--failure-ink); overflow-wrap: anywhere; }

/* A target's history: a timeline in place of the chart and the list. */
.history-card[hidden] { display: none; }
body.history-open .chart-card, body.history-open .table-card, body.history-open .detail { display: none; }
body.history-open .content { grid-column: 1 / -1; }
#history-title { overflow-wrap: anywhere; }
#history-title:focus { outline: none; }
#history-title:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.history-card .card-head button { height: 30px; padding: 0 10px; font-size: 13px; }
.timeline { list-style: none; margin: 0; padding: 0; }
.version { padding: 12px 16px 14px; border-bottom: 1px solid var(--line); }
.version:last-child { border-bottom: 0; }
.version:focus { outline: 2px solid var(--accent); outline-offset: -2px; }
.version-head { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; }
.version-head time { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.version-action { font-family: var(--mono); font-size: 13px; overflow-wrap: anywhere; }
.op { font-size: 11px; padding: 0 7px; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); }
.op-insert { color: var(--success-ink); border-color: var(--success); }
.op-delete { color: var(--failure-ink); border-color: var(--failure); }
.version-by { margin: 4px 0 8px; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.version-by strong { color: var(--text); font-weight: 600; }
.version table.changes { table-layout: fixed; }
.version table.changes th:first-child { width: 26%; }
.version table.changes td:first-child { white-space: normal; overflow-wrap: anywhere; }
.version table.changes tbody tr { cursor: default; }
.version table.changes tbody tr:hover { background: transparent; }
.history-card .pager { justify-content: space-between; }

/* Below the two-column width the detail is a sheet over the page, shown only when open. */
@media (max-width: 1100px) {
  .detail {
    display: none; position: fixed; z-index: 10; top: 0; right: 0; bottom: 0; width: min(480px, 100%);
    max-height: none; border-radius: 0; box-shadow: -8px 0 24px rgba(16, 24, 40, 0.18);
  }
  .detail.open { display: block; }
  .detail .card-head { position: sticky; top: 0; background: var(--card); z-index: 1; }
  .detail .close { height: 40px; min-width: 40px; font-size: 20px; }
  body.sheet-open { overflow: hidden; }
}

/* A narrow table: the time's date and time may take a line each, leaving the room to the names. */
@media (max-width: 760px) {
  .when { white-space: normal; }
}
/* Where the table has the room for it even with long values beside (a wide list, or a tablet's
   list under the detail), the zone stays on the time's line. */
@media (min-width: 761px) and (max-width: 1100px), (min-width: 1180px) {
  .col-time time { white-space: nowrap; }
}

/* A phone: no horizontal scroll anywhere; the table is a list of cards. */
@media (max-width: 640px) {
  .topbar { padding: 10px 12px; }
  .layout { padding: 10px 8px 24px; gap: 10px; }
  .filters { padding: 10px 12px; gap: 8px; }
  .filters label:not(.check) { flex: 1 1 140px; }
  .filters label.wide { flex-basis: 100%; }
  .filters input, .filters select, .filters input[type="date"], #f-search, #f-action, #f-actorType, #f-actorId, #f-requestId, #f-traceId { width: 100%; }
  .filter-actions { margin-left: 0; flex-basis: 100%; flex-wrap: wrap; }
  /* The list comes first on a phone: filters past the search wait behind "More filters". */
  .more-toggle { display: inline-block; }
  .filters:not(.expanded) .more { display: none; }
  .filter-actions button { flex: 1 1 auto; }
  .chart { padding: 8px 8px 10px; }
  .legend { margin-left: 0; flex-basis: 100%; }
  .table-wrap { overflow: visible; }
  .table-wrap table, .table-wrap tbody, .table-wrap tr, .table-wrap td { display: block; }
  .table-wrap thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .table-wrap tbody tr {
    display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 4px 12px; padding: 12px 14px;
    border-bottom: 1px solid var(--line);
  }
  .table-wrap tbody tr:last-child { border-bottom: 0; }
  .table-wrap td { padding: 0; border: 0; min-width: 0; }
  .table-wrap td.col-time { grid-column: 1; grid-row: 1; font-size: 12px; }
  .table-wrap td.col-status { grid-column: 2; grid-row: 1; text-align: right; }
  .table-wrap td.col-action, .table-wrap td.col-actor, .table-wrap td.col-target { grid-column: 1 / -1; }
  .table-wrap td.col-actor::before, .table-wrap td.col-target::before {
    content: attr(data-label); display: block; font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em;
  }
  .table-wrap td.col-actor, .table-wrap td.col-target { display: grid; grid-template-columns: 56px minmax(0, 1fr); column-gap: 8px; }
  .table-wrap td.col-actor::before, .table-wrap td.col-target::before { grid-row: 1 / span 2; padding-top: 2px; }
  .pager { justify-content: space-between; }
  .detail { width: 100%; }
  .version { padding: 10px 12px 12px; }
  .version table.changes th:first-child { width: 30%; }
  .version table.changes th, .version table.changes td { padding: 5px 6px; }
}
`;
