/**
 * The viewer's browser script: plain ES2020, no dependencies, inlined into the page and
 * allowed by its hash in the page's Content-Security-Policy (which also enables Trusted
 * Types, so an `innerHTML` assignment would throw rather than parse markup).
 *
 * Every value from the log reaches the page through `textContent`, `setAttribute` or an
 * SVG `<title>`'s text: record data is never parsed as markup. Control and bidi characters in
 * what the page shows are replaced by their escapes (`\u202e`), so a value cannot reorder or
 * hide the text around it.
 *
 * The page is served at the mount point of the logs API, so the API's base path is the
 * page's own path: that holds behind a proxy that adds or strips a prefix, too.
 *
 * What the page shows is in its URL: the filters, the time zone (`tz=utc`, local by default),
 * whether the log's own reads are shown (`reads=show`) and the page position (`cursors`, the
 * stack of cursors that led to this page), so a reload, a shared link and Back land where
 * they were. Each filter change is one `GET ?summary=auto`: the page and its chart in one
 * read, recorded by the API as one `activity.view`; paging asks for `summary=none`.
 * The history of one target (`historyType` and `historyId` in the URL) replaces the chart and
 * the list with a timeline of its versions, read from `GET /history` a page at a time.
 *
 * Written as a string (no backticks or template substitutions inside) so that the library
 * needs no build step of its own for it and the same text is hashed and served everywhere.
 */
export const VIEWER_SCRIPT = String.raw`
(() => {
  'use strict';
  const FORM_FILTERS = ['search', 'actorType', 'actorId', 'action', 'status', 'requestId', 'traceId'];
  const EXTRA_FILTERS = ['targetType', 'targetId', 'tenantId'];
  const API_FILTERS = ['from', 'to'].concat(FORM_FILTERS, EXTRA_FILTERS, ['limit']);
  const STATUSES = ['success', 'failure', 'denied'];
  const HOUR = 3600000;
  const DAY = 86400000;
  const MAX_BARS = 60;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const LABELS = { targetType: 'target type', targetId: 'target id', tenantId: 'tenant' };
  const OWN_READS = 'activity.*';
  const RECENT_DAYS = 7;
  const LOCAL_ZONE = (Intl.DateTimeFormat().resolvedOptions().timeZone) || 'UTC';
  const SHEET = window.matchMedia('(max-width: 1100px)');

  const base = location.pathname.replace(/\/+$/, '');
  const $ = (id) => document.getElementById(id);
  const form = $('filters');

  // view: { filters (URLSearchParams), utc (bool), showReads (bool), cursors (the cursors that led to this page) }
  // history: the target whose timeline is shown, its versions so far and the next cursor.
  const state = { view: null, chartKey: null, nextCursor: null, items: [], summary: null, selectedId: null, loads: 0, returnFocus: null, history: null, historyLoads: 0, historyPushed: false, focusRowId: null };

  function apiUrl(path, params) {
    const query = params ? params.toString() : '';
    return (path ? base + path : base || '/') + (query ? '?' + query : '');
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const name of Object.keys(attributes || {})) node.setAttribute(name, String(attributes[name]));
    return node;
  }

  // ---- control characters: shown, never obeyed -------------------------------------------

  // A bidi control in a value (U+202E RIGHT-TO-LEFT OVERRIDE and the rest) reorders the text
  // after it, so a logged user agent or target name could make a row or the detail read as
  // something it is not; other control characters are invisible. Each is shown as its escape
  // (\u202e), as the CLI prints them, and JSON text keeps meaning the same (the escape is
  // JSON's own). Tab, newline and CR stay: HTML shows them as white space, and they are the
  // pretty JSON's layout.
  const HIDDEN_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  // The attributes whose text is shown: a tooltip, a screen reader's label, the id popover.
  const SHOWN_ATTRIBUTES = ['title', 'aria-label', 'data-full'];

  function escapeControls(text) {
    return text.replace(HIDDEN_CONTROLS, (char) => '\\u' + char.charCodeAt(0).toString(16).padStart(4, '0'));
  }

  function revealAttributes(element) {
    for (const name of SHOWN_ATTRIBUTES) {
      const value = element.getAttribute(name);
      if (value === null) continue;
      const shown = escapeControls(value);
      if (shown !== value) element.setAttribute(name, shown);
    }
  }

  function revealControls(node) {
    if (node.nodeType === Node.TEXT_NODE) {
      const shown = escapeControls(node.data);
      if (shown !== node.data) node.data = shown;
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    revealAttributes(node);
    for (const element of node.querySelectorAll('[title], [aria-label], [data-full]')) revealAttributes(element);
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) revealControls(text);
  }

  // Applied to whatever reaches the page, by any path (textContent, append, an attribute), so
  // no rendering function can forget it. The observer's callback runs before the browser next
  // paints, so the raw text is never drawn; its own edits come back once and change nothing.
  // Form fields are left alone: their values are what the user typed and what is searched for.
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      if (mutation.type === 'childList') for (const added of mutation.addedNodes) revealControls(added);
      else if (mutation.type === 'characterData') revealControls(mutation.target);
      else revealAttributes(mutation.target);
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: SHOWN_ATTRIBUTES });

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = new Error(body && typeof body.message === 'string' ? body.message : 'The server answered ' + response.status);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // The verify endpoint streams NDJSON lines: progress, then the report.
  async function verifyReport(params) {
    const response = await fetch(apiUrl('/verify', params), { credentials: 'same-origin', cache: 'no-store' });
    const text = await response.text();
    if (!response.ok) {
      let message = 'The server answered ' + response.status;
      try {
        message = JSON.parse(text).message || message;
      } catch (_) {}
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    const lines = text.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]).report;
  }

  function problemSummary(report) {
    const kinds = Object.keys(report.counts).filter((kind) => kind !== 'erased' && report.counts[kind] > 0);
    return kinds.map((kind) => report.counts[kind] + ' ' + kind).join(', ');
  }

  async function verifyRange() {
    const out = $('verify-result');
    out.hidden = false;
    out.className = 'verify-result';
    out.textContent = 'Verifying\u2026';
    const params = new URLSearchParams();
    for (const name of ['from', 'to']) if (state.view.filters.get(name)) params.set(name, state.view.filters.get(name));
    try {
      const report = await verifyReport(params);
      const erased = report.counts.erased ? ', ' + report.counts.erased + ' lawfully erased' : '';
      if (report.ok) {
        out.classList.add('verified');
        out.textContent = 'Verified: ' + report.checked + ' sealed records in ' + report.chains + (report.chains === 1 ? ' chain' : ' chains') + ', nothing edited, missing or reordered' + erased + '.';
      } else {
        out.classList.add('tampered');
        const first = report.problems[0];
        out.textContent = 'Problems found in ' + report.checked + ' records: ' + problemSummary(report) + erased + '.' + (first ? ' First: ' + (first.id ? first.id + ': ' : '') + first.detail + '.' : '');
      }
    } catch (error) {
      out.classList.add('tampered');
      out.textContent = error.status === 501 ? 'Tamper evidence is off for this log (no integrity key).' : 'Could not verify: ' + error.message;
    }
  }

  async function integrityField(list, record) {
    if (!record.integrity) {
      field(list, 'Integrity', 'not sealed');
      return;
    }
    const value = el('span', 'integrity', 'chain ' + record.integrity.chain.slice(0, 13) + '\u2026 #' + record.integrity.seq + ' \u00b7 checking\u2026');
    value.title = record.integrity.chain;
    field(list, 'Integrity', value);
    try {
      const report = await verifyReport(new URLSearchParams({ id: record.id }));
      const erased = report.problems.find((problem) => problem.kind === 'erased');
      const other = report.problems.find((problem) => problem.kind !== 'erased');
      const place = 'chain ' + record.integrity.chain.slice(0, 13) + '\u2026 #' + record.integrity.seq + ' \u00b7 ';
      if (other) {
        value.classList.add('tampered');
        value.textContent = place + other.kind + ': ' + other.detail;
      } else {
        value.classList.add('verified');
        value.textContent = place + (erased ? 'verified, ' + erased.detail : 'verified');
      }
    } catch (error) {
      if (error.status === 404) {
        // Listed, but no longer in the store: deleted since the page was loaded.
        value.classList.add('tampered');
        value.textContent = 'chain ' + record.integrity.chain.slice(0, 13) + '\u2026 #' + record.integrity.seq + ' \u00b7 missing: the store no longer holds this record';
        return;
      }
      value.textContent = error.status === 501 ? 'sealed (not checked: no integrity key here)' : 'could not check: ' + error.message;
    }
  }

  // ---- times, in the zone the reader chose (UTC or the browser's own) ------------------

  const pad = (n) => String(n).padStart(2, '0');
  const zoneOf = () => (state.view.utc ? 'UTC' : LOCAL_ZONE);

  // The wall-clock fields of an instant in the chosen zone.
  function wall(ms) {
    const date = new Date(ms);
    return state.view.utc
      ? { y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: date.getUTCDate(), h: date.getUTCHours(), mi: date.getUTCMinutes(), s: date.getUTCSeconds() }
      : { y: date.getFullYear(), m: date.getMonth() + 1, d: date.getDate(), h: date.getHours(), mi: date.getMinutes(), s: date.getSeconds() };
  }
  // The instant a calendar day starts in the chosen zone (addDays may run past the month).
  function dayStart(y, m, d, addDays) {
    return state.view.utc ? Date.UTC(y, m - 1, d + (addDays || 0)) : new Date(y, m - 1, d + (addDays || 0)).getTime();
  }
  function dateText(ms) {
    const w = wall(ms);
    return w.y + '-' + pad(w.m) + '-' + pad(w.d);
  }
  // The zone's short name at an instant: UTC, or the browser's (CET, GMT+5:30).
  function zoneLabel(ms) {
    if (state.view.utc) return 'UTC';
    try {
      const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
      return part ? part.value : LOCAL_ZONE;
    } catch (_) {
      return LOCAL_ZONE;
    }
  }
  // A time with its zone: a <time> element, the full ISO instant on hover.
  function timeElement(value) {
    // null: a stored time no Date holds (text or a huge number in the column; verify() names it).
    if (value === null || value === undefined) {
      const unreadable = el('span', 'unreadable-time', 'unreadable time');
      unreadable.title = 'The stored time is not one this library writes: run verify';
      return unreadable;
    }
    const ms = Date.parse(value);
    const node = el('time');
    node.setAttribute('datetime', String(value));
    node.title = String(value);
    if (Number.isNaN(ms)) {
      node.textContent = String(value);
      return node;
    }
    const w = wall(ms);
    // The date and time stay on one line (but on a narrow table); the zone may go under them.
    node.append(el('span', 'when', dateText(ms) + ' ' + pad(w.h) + ':' + pad(w.mi) + ':' + pad(w.s)), ' ', el('span', 'tz', zoneLabel(ms)));
    return node;
  }
  function dateInputValue(iso, shiftMs) {
    if (!iso) return '';
    const time = /^\d+$/.test(iso) ? Number(iso) : Date.parse(iso);
    return Number.isNaN(time) ? '' : dateText(time + shiftMs);
  }
  function isoFromDateInput(value, addDays) {
    const parts = value.split('-').map(Number);
    return new Date(dayStart(parts[0], parts[1], parts[2], addDays)).toISOString();
  }
  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  // ---- ids: shortened, the whole value on hover and focus, and a copy button -------------

  // Head and tail: the tail tells apart UUIDv7s of one moment, which share their head.
  function shortId(id) {
    const text = String(id);
    return text.length > 12 ? text.slice(0, 4) + '\u2026' + text.slice(-4) : text;
  }

  // In the list: a shortened id is focusable and shows the whole value in the same popover
  // as the detail's, on hover and on focus (a tap focuses it on a touch screen). Copying is
  // the detail's: Enter (or a tap) on the row opens it, with a Copy button by each id; a
  // button per id here would double the list's tab stops and crowd the phone's cards.
  function idText(id) {
    const full = String(id);
    if (full.length <= 12) return el('span', 'id', full);
    const node = el('span', 'id full-on-focus', shortId(full));
    node.title = full;
    node.tabIndex = 0;
    node.dataset.full = full;
    node.setAttribute('aria-label', 'id ' + full);
    return node;
  }

  // In the detail: focusable, the whole id in a popover while focused or hovered, with a copy button.
  function idWithCopy(id, what) {
    const full = String(id);
    const wrap = el('span', 'id-copy');
    const text = el('span', 'id full-on-focus', shortId(full));
    text.title = full;
    text.tabIndex = 0;
    text.setAttribute('aria-label', what + ' ' + full);
    // Shown by the stylesheet in a popover on hover and focus: the layout never shifts under the pointer.
    text.dataset.full = full;
    const copy = el('button', 'copy', 'Copy');
    copy.type = 'button';
    copy.setAttribute('aria-label', 'Copy ' + what);
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(full);
        copy.textContent = 'Copied';
      } catch (_) {
        copy.textContent = 'Select it';
        text.focus();
        const range = document.createRange();
        range.selectNodeContents(text);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
      setTimeout(() => (copy.textContent = 'Copy'), 1500);
    });
    wrap.append(text, copy);
    return wrap;
  }

  // ---- the URL: filters, zone, own reads, and the page position --------------------------

  function readView() {
    const url = new URLSearchParams(location.search);
    const filters = new URLSearchParams();
    for (const name of API_FILTERS) {
      const value = url.get(name);
      if (value) filters.set(name, value);
    }
    const cursors = (url.get('cursors') || '').split(',').filter((cursor) => /^[A-Za-z0-9_-]{1,512}$/.test(cursor));
    const utc = url.get('tz') === 'utc';
    // No dates and no range=all: the last days, so a page view never reads the whole table.
    const all = url.get('range') === 'all';
    if (!all && !filters.get('from') && !filters.get('to')) filters.set('from', recentFrom(utc));
    const historyType = url.get('historyType');
    const historyId = url.get('historyId');
    const target = historyType && historyId && historyType.length <= 64 && historyId.length <= 255 ? { type: historyType, id: historyId } : null;
    return { filters, utc, showReads: url.get('reads') === 'show', cursors, all, history: target };
  }

  // The default From: the start of the day RECENT_DAYS - 1 days ago, in the chosen zone.
  function recentFrom(utc) {
    const now = new Date();
    const back = RECENT_DAYS - 1;
    const start = utc ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - back) : new Date(now.getFullYear(), now.getMonth(), now.getDate() - back).getTime();
    return new Date(start).toISOString();
  }

  // The view of a fresh visit (and of Clear): the default range, nothing else.
  function defaultView(utc) {
    const filters = new URLSearchParams();
    filters.set('from', recentFrom(utc));
    return { filters, utc, showReads: false, cursors: [], all: false, history: null };
  }

  function viewQuery(view) {
    const params = new URLSearchParams(view.filters);
    if (view.utc) params.set('tz', 'utc');
    if (view.showReads) params.set('reads', 'show');
    if (view.cursors.length > 0) params.set('cursors', view.cursors.join(','));
    if (view.all && !params.get('from') && !params.get('to')) params.set('range', 'all');
    if (view.history) {
      params.set('historyType', view.history.type);
      params.set('historyId', view.history.id);
    }
    return params.toString();
  }

  // The log's own reads are left out unless shown, or asked for by the action filter.
  function readsHidden(view) {
    return !view.showReads && !/^activity(\.|$)/.test(view.filters.get('action') || '');
  }

  // What the API is asked, but for paging: the chart is read again only when this changes.
  function apiFilters(view) {
    const params = new URLSearchParams(view.filters);
    // Only the successful ones: a refused (denied) or failed attempt to read the log is
    // something an admin looks for, and stays in the list.
    if (readsHidden(view)) {
      params.set('excludeAction', OWN_READS);
      params.set('excludeActionStatus', 'success');
    }
    params.set('tz', view.utc ? 'UTC' : LOCAL_ZONE);
    return params;
  }

  function fillForm() {
    const view = state.view;
    const f = view.filters;
    $('f-from').value = dateInputValue(f.get('from'), 0);
    $('f-to').value = dateInputValue(f.get('to'), -1);
    for (const name of FORM_FILTERS) $('f-' + name).value = f.get(name) || '';
    $('f-tz').value = view.utc ? 'utc' : 'local';
    const own = $('f-reads');
    own.checked = !view.showReads;
    own.disabled = /^activity(\.|$)/.test(f.get('action') || '');
    $('reads-note').hidden = !own.disabled;
    showRangeProblem(null);
    const extra = $('extra');
    extra.replaceChildren();
    for (const name of EXTRA_FILTERS) {
      const value = f.get(name);
      if (!value) continue;
      const chip = el('span', 'chip', LABELS[name] + ' = ' + value);
      const remove = el('button', null, '\u00d7');
      remove.type = 'button';
      remove.setAttribute('aria-label', 'Remove filter ' + LABELS[name]);
      remove.addEventListener('click', () => {
        const next = Object.assign({}, state.view, { filters: new URLSearchParams(state.view.filters), cursors: [] });
        next.filters.delete(name);
        navigate(next);
      });
      chip.append(remove);
      extra.append(chip);
    }
    extra.hidden = extra.childElementCount === 0;
    for (const node of document.querySelectorAll('.zone-name')) node.textContent = zoneOf();
    // A filter in force is never out of sight behind "More filters".
    const defaultRange = !f.get('to') && f.get('from') === recentFrom(view.utc);
    $('range-note').hidden = !defaultRange;
    const inForce = ['from', 'to'].concat(FORM_FILTERS).filter((name) => name !== 'search' && !(defaultRange && name === 'from'));
    if (inForce.some((name) => f.get(name)) || view.utc || view.showReads) {
      form.classList.add('expanded');
      $('more-filters').setAttribute('aria-expanded', 'true');
      $('more-filters').textContent = 'Fewer filters';
    }
  }

  function showRangeProblem(message) {
    const box = $('range-error');
    box.hidden = !message;
    box.textContent = message || '';
    for (const id of ['f-from', 'f-to']) {
      if (message) $(id).setAttribute('aria-invalid', 'true');
      else $(id).removeAttribute('aria-invalid');
    }
  }

  // The view the form describes, or null (and a message by the dates) when the range is backwards.
  function formView() {
    const from = $('f-from').value;
    const to = $('f-to').value;
    if (from && to && from > to) {
      showRangeProblem('"From" (' + from + ') is after "To" (' + to + '): choose a From on or before the To date.');
      $('f-from').focus();
      return null;
    }
    showRangeProblem(null);
    const utc = $('f-tz').value === 'utc';
    // Both dates emptied: every time (range=all in the URL), not the default range again.
    const view = { filters: new URLSearchParams(), utc, showReads: !$('f-reads').checked, cursors: [], all: !from && !to, history: null };
    // Dates are read in the zone chosen now.
    const before = state.view;
    state.view = view;
    if (from) view.filters.set('from', isoFromDateInput(from, 0));
    if (to) view.filters.set('to', isoFromDateInput(to, 1));
    state.view = before;
    for (const name of FORM_FILTERS) {
      const value = $('f-' + name).value.trim();
      if (value) view.filters.set(name, value);
    }
    for (const name of EXTRA_FILTERS.concat(['limit'])) {
      const value = state.view.filters.get(name);
      if (value) view.filters.set(name, value);
    }
    return view;
  }

  function navigate(view, replace) {
    const query = viewQuery(view);
    if (replace) history.replaceState(null, '', location.pathname + (query ? '?' + query : ''));
    else history.pushState(null, '', location.pathname + (query ? '?' + query : ''));
    show(view);
  }

  function show(view) {
    const fromHistory = state.view && state.view.history && !view.history;
    state.view = view;
    fillForm();
    updateExports();
    if (view.history) {
      showHistory(view.history);
      return;
    }
    hideHistory();
    // The chart was hidden: drawn again at the card's width now.
    if (fromHistory && state.summary) drawChart();
    loadPage();
  }

  function updateExports() {
    const params = apiFilters(state.view);
    params.delete('limit');
    params.delete('tz');
    for (const format of ['csv', 'ndjson']) {
      params.set('format', format);
      $('export-' + format).setAttribute('href', apiUrl('/export', params));
    }
  }

  function showError(error) {
    const box = $('error');
    if (!error) {
      box.hidden = true;
      box.textContent = '';
      return;
    }
    box.textContent = error.status === 403 ? 'You are not allowed to read the activity log (signed out?). Sign in again, then reload.' : String(error.message || error);
    box.hidden = false;
  }

  // ---- the table (a list of cards on a phone) -------------------------------------------

  function statusBadge(status) {
    const known = STATUSES.indexOf(status) >= 0 ? status : 'other';
    return el('span', 'badge badge-' + known, status || 'unknown');
  }

  function cell(className, label, primary, secondary) {
    const node = el('td', className);
    node.dataset.label = label;
    const first = el('span', 'primary-text');
    first.append(primary);
    node.append(first);
    if (secondary && secondary.length > 0) {
      const second = el('span', 'secondary-text');
      second.append.apply(second, secondary);
      node.append(second);
    }
    return node;
  }

  // Names before ids: the name when there is one, then type and the shortened id.
  function partyCell(className, label, party) {
    if (!party) return cell(className, label, '\u2014');
    const primary = party.name ? party.name : party.id !== undefined && party.id !== null ? idText(party.id) : party.type;
    const secondary = [party.type];
    if (party.name && party.id !== undefined && party.id !== null) secondary.push(' \u00b7 ', idText(party.id));
    return cell(className, label, primary, party.name || (party.id !== undefined && party.id !== null) ? secondary : null);
  }

  // Where a request went: its route template, or, for an http.* record of a request no route
  // matched (refused before routing, an unknown path), the path automatic capture keeps in
  // metadata.path (in other records that key is the app's own, and means something else).
  function requestWhere(record) {
    const context = record.context || {};
    if (context.route) return context.route;
    const path = /^http\./.test(record.action) && record.metadata ? record.metadata.path : undefined;
    return typeof path === 'string' ? path : '';
  }

  // http.* rows (automatic capture) show the method, route (or path) and status code.
  function requestLine(record) {
    if (!/^http\./.test(record.action)) return null;
    const context = record.context || {};
    const code = record.metadata && record.metadata.statusCode;
    const parts = [context.method, requestWhere(record)].filter(Boolean).join(' ');
    const text = [parts, code !== undefined ? String(code) : ''].filter(Boolean).join(' \u00b7 ');
    return text ? [text] : null;
  }

  function renderTable() {
    const rows = $('rows');
    rows.replaceChildren();
    for (const record of state.items) {
      const row = el('tr');
      row.tabIndex = 0;
      row.dataset.id = record.id;
      if (record.id === state.selectedId) row.classList.add('selected');
      const timeCell = el('td', 'col-time');
      timeCell.dataset.label = 'Time';
      timeCell.append(timeElement(record.occurredAt));
      const statusCell = el('td', 'col-status');
      statusCell.dataset.label = 'Status';
      statusCell.append(statusBadge(record.status));
      row.append(
        timeCell,
        partyCell('col-actor', 'Actor', record.actor),
        cell('col-action', 'Action', record.action, requestLine(record)),
        partyCell('col-target', 'Target', record.target),
        statusCell,
      );
      row.addEventListener('click', () => select(record, row));
      row.addEventListener('keydown', (event) => onRowKey(event, record, row));
      rows.append(row);
    }
    // Back from a target's history: to the row it was opened from.
    if (state.focusRowId) {
      const back = Array.from(rows.children).find((row) => row.dataset.id === state.focusRowId);
      state.focusRowId = null;
      if (back) back.focus();
    }
    $('empty').hidden = state.items.length > 0 || !$('error').hidden;
    $('page-label').textContent = 'Page ' + (state.view.cursors.length + 1);
    $('prev').disabled = state.view.cursors.length === 0;
    $('next').disabled = !state.nextCursor;
  }

  // Arrow keys move between rows, Home and End to the first and last, Enter or Space opens one.
  function onRowKey(event, record, row) {
    const rows = Array.from($('rows').children);
    const index = rows.indexOf(row);
    let target = null;
    if (event.key === 'ArrowDown') target = rows[index + 1];
    else if (event.key === 'ArrowUp') target = rows[index - 1];
    else if (event.key === 'Home') target = rows[0];
    else if (event.key === 'End') target = rows[rows.length - 1];
    else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(record, row);
      return;
    } else return;
    event.preventDefault();
    if (target) target.focus();
  }

  async function loadPage() {
    const load = ++state.loads;
    const view = state.view;
    const params = apiFilters(view);
    const chartKey = params.toString();
    const withChart = chartKey !== state.chartKey;
    params.set('summary', withChart ? 'auto' : 'none');
    if (view.cursors.length > 0) params.set('cursor', view.cursors[view.cursors.length - 1]);
    document.body.classList.add('busy');
    try {
      const body = await getJson(apiUrl('', params));
      if (load !== state.loads) return;
      state.items = Array.isArray(body && body.items) ? body.items : [];
      state.nextCursor = body && typeof body.nextCursor === 'string' ? body.nextCursor : null;
      if (withChart) {
        state.chartKey = chartKey;
        state.summary = body && body.summary ? body.summary : null;
        drawChart();
      }
      showError(null);
    } catch (error) {
      if (load !== state.loads) return;
      state.items = [];
      state.nextCursor = null;
      state.chartKey = null;
      state.summary = null;
      showError(error);
      chartNote('No chart for these filters.');
    } finally {
      if (load === state.loads) {
        document.body.classList.remove('busy');
        renderTable();
      }
    }
  }

  function goToPage(cursors) {
    navigate(Object.assign({}, state.view, { cursors }));
  }

  // ---- the detail panel (a full-screen sheet on a phone) --------------------------------

  function field(list, name, value, mono) {
    if (value === undefined || value === null || value === '') return;
    list.append(el('dt', null, name));
    const dd = el('dd', mono ? 'mono' : null);
    if (value instanceof Node) dd.append(value);
    else dd.textContent = String(value);
    list.append(dd);
  }

  function partyValue(party, what) {
    const node = el('span');
    node.append([party.name, party.type].filter(Boolean).join(' \u00b7 '));
    if (party.id !== undefined && party.id !== null) node.append(' ', idWithCopy(party.id, what + ' id'));
    return node;
  }

  function jsonSection(body, title, value) {
    body.append(el('h3', null, title));
    if (value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)) {
      body.append(el('p', 'muted', 'None'));
      return;
    }
    const pre = el('pre', 'json', pretty(value));
    // Scrollable when long: reachable from the keyboard.
    pre.tabIndex = 0;
    pre.setAttribute('aria-label', title);
    body.append(pre);
  }

  // Stored changes are the changed fields only: { field: { before, after } }.
  function changesSection(body, changes) {
    const names = changes && typeof changes === 'object' ? Object.keys(changes) : [];
    const isDiff = names.length > 0 && names.every((name) => changes[name] && typeof changes[name] === 'object' && 'before' in changes[name] && 'after' in changes[name]);
    if (!isDiff) return jsonSection(body, 'Changes', changes);
    body.append(el('h3', null, 'Changes'));
    body.append(changesTable(changes, names));
  }

  // Field, before and after, one row per changed field.
  function changesTable(changes, names) {
    const table = el('table', 'changes');
    const head = el('tr');
    head.append(el('th', null, 'Field'), el('th', null, 'Before'), el('th', null, 'After'));
    const thead = el('thead');
    thead.append(head);
    const tbody = el('tbody');
    for (const name of names) {
      const row = el('tr');
      row.append(el('td', null, name), el('td', 'before', pretty(changes[name].before)), el('td', 'after', pretty(changes[name].after)));
      tbody.append(row);
    }
    table.append(thead, tbody);
    return table;
  }

  // What "This request" and "This trace" leave out: every filter that would hide some of the
  // request's (or trace's) records. The dates, the tenant and the page size stay.
  const NARROWING_FILTERS = ['search', 'actorType', 'actorId', 'action', 'status', 'requestId', 'traceId', 'targetType', 'targetId'];

  // A button adding filters to the view's; with alone, the view's narrowing filters go first.
  function filterButton(label, params, alone) {
    const button = el('button', null, label);
    button.type = 'button';
    button.addEventListener('click', () => {
      const next = Object.assign({}, state.view, { filters: new URLSearchParams(state.view.filters), cursors: [] });
      if (alone) for (const name of NARROWING_FILTERS) next.filters.delete(name);
      for (const name of Object.keys(params)) next.filters.set(name, params[name]);
      closeDetail(false);
      navigate(next);
    });
    return button;
  }

  function select(record, row) {
    state.selectedId = record.id;
    state.returnFocus = row || null;
    for (const other of $('rows').children) other.classList.toggle('selected', other.dataset.id === record.id);
    const body = $('detail-body');
    body.replaceChildren();
    const title = el('div', 'detail-title');
    title.append(el('span', null, record.action), statusBadge(record.status));
    body.append(title);

    const list = el('dl', 'fields');
    field(list, 'Time', timeElement(record.occurredAt));
    field(list, 'ID', idWithCopy(record.id, 'record id'), true);
    if (record.actor) field(list, 'Actor', partyValue(record.actor, 'actor'));
    if (record.target) field(list, 'Target', partyValue(record.target, 'target'));
    field(list, 'Tenant', record.tenantId, true);
    const context = record.context || {};
    if (context.method || requestWhere(record)) field(list, 'Request', [context.method, requestWhere(record)].filter(Boolean).join(' ') + (record.metadata && record.metadata.statusCode !== undefined ? ' \u00b7 ' + record.metadata.statusCode : ''));
    if (context.requestId) field(list, 'Request id', idWithCopy(context.requestId, 'request id'), true);
    if (context.traceId) field(list, 'Trace id', idWithCopy(context.traceId, 'trace id'), true);
    void integrityField(list, record);
    body.append(list);

    if (record.error) {
      body.append(el('h3', null, 'Error'));
      const box = el('div', 'error-box');
      box.append(el('strong', null, (record.error.name || 'Error') + (record.error.code ? ' (' + record.error.code + ')' : '')));
      box.append(document.createTextNode(': ' + (record.error.message || '')));
      body.append(box);
    }
    jsonSection(body, 'Metadata', record.metadata);
    changesSection(body, record.changes);
    jsonSection(body, 'Context', record.context);

    const actions = el('p', 'detail-actions');
    // Every record of the request (or trace), whatever the list was filtered on: the point is to see them together.
    if (context.requestId) actions.append(filterButton('This request', { requestId: context.requestId }, true));
    if (context.traceId) actions.append(filterButton('This trace', { traceId: context.traceId }, true));
    if (record.actor && record.actor.id) actions.append(filterButton('Only this actor', { actorType: record.actor.type, actorId: record.actor.id }));
    if (record.target) actions.append(filterButton('Only this target', { targetType: record.target.type, targetId: record.target.id }));
    if (record.target) actions.append(historyButton(record));
    actions.append(filterButton('Only this action', { action: record.action }));
    body.append(actions);
    const detail = $('detail');
    detail.classList.add('open');
    detail.scrollTop = 0;
    // On a narrow screen the detail is a sheet over the list: move there, and keep the page still.
    if (SHEET.matches) {
      document.body.classList.add('sheet-open');
      $('close-detail').focus();
    }
  }

  function closeDetail(restoreFocus) {
    state.selectedId = null;
    for (const row of $('rows').children) row.classList.remove('selected');
    const body = $('detail-body');
    body.replaceChildren(el('p', 'muted', 'Select an event to see its metadata, changes and context.'));
    $('detail').classList.remove('open');
    document.body.classList.remove('sheet-open');
    if (restoreFocus !== false && state.returnFocus && state.returnFocus.isConnected) state.returnFocus.focus();
    state.returnFocus = null;
  }

  // ---- the history of one target: its versions, newest first -----------------------------

  const HISTORY_PAGE = 20;
  const OPERATIONS = ['insert', 'update', 'delete'];

  function historyButton(record) {
    const button = el('button', 'history-button', 'History of this target');
    button.type = 'button';
    button.addEventListener('click', () => {
      const next = Object.assign({}, state.view, { history: { type: String(record.target.type), id: String(record.target.id) } });
      state.historyPushed = true;
      state.focusRowId = record.id;
      closeDetail(false);
      navigate(next);
    });
    return button;
  }

  function showHistory(target) {
    document.body.classList.add('history-open');
    $('history').hidden = false;
    $('history-title').textContent = 'History of ' + target.type + ' ' + target.id;
    $('history-caption').textContent = 'newest first, times in ' + zoneOf();
    state.history = { target, items: [], nextCursor: null };
    $('history-items').replaceChildren();
    $('history-empty').hidden = true;
    $('history-count').textContent = '';
    $('history-more').hidden = true;
    $('history').removeAttribute('aria-busy');
    $('history-title').focus();
    void loadHistory(null);
  }

  function hideHistory() {
    document.body.classList.remove('history-open');
    $('history').hidden = true;
    state.history = null;
    state.historyLoads++;
  }

  async function loadHistory(cursor) {
    const load = ++state.historyLoads;
    const shown = state.history;
    const params = new URLSearchParams({ targetType: shown.target.type, targetId: shown.target.id, limit: String(HISTORY_PAGE) });
    if (cursor) params.set('cursor', cursor);
    const section = $('history');
    const more = $('history-more');
    more.disabled = true;
    section.setAttribute('aria-busy', 'true');
    try {
      const body = await getJson(apiUrl('/history', params));
      if (load !== state.historyLoads) return;
      const items = Array.isArray(body && body.items) ? body.items : [];
      const list = $('history-items');
      const added = items.map(versionItem);
      list.append.apply(list, added);
      shown.items = shown.items.concat(items);
      shown.nextCursor = body && typeof body.nextCursor === 'string' ? body.nextCursor : null;
      showError(null);
      // After "Load more": on to the first version it added.
      if (cursor && added.length > 0) added[0].focus();
    } catch (error) {
      if (load !== state.historyLoads) return;
      showError(error);
    } finally {
      if (load === state.historyLoads) {
        section.removeAttribute('aria-busy');
        more.disabled = false;
        more.hidden = !shown.nextCursor;
        const count = shown.items.length;
        $('history-count').textContent = count > 0 ? count + (count === 1 ? ' version' : ' versions') + (shown.nextCursor ? ' so far' : '') : '';
        $('history-empty').hidden = count > 0 || !$('error').hidden;
      }
    }
  }

  // One version: when, what, who, and its fields before and after.
  function versionItem(record) {
    const item = el('li', 'version');
    item.tabIndex = -1;
    const head = el('div', 'version-head');
    head.append(timeElement(record.occurredAt), el('span', 'version-action', record.action));
    const operation = record.metadata && record.metadata.operation;
    if (typeof operation === 'string') head.append(el('span', 'op op-' + (OPERATIONS.indexOf(operation) >= 0 ? operation : 'other'), operation));
    if (record.status && record.status !== 'success') head.append(statusBadge(record.status));
    item.append(head, versionAuthor(record.actor));
    const changes = record.changes && typeof record.changes === 'object' ? record.changes : {};
    const names = Object.keys(changes);
    if (names.length > 0 && names.every((name) => changes[name] && typeof changes[name] === 'object' && 'before' in changes[name] && 'after' in changes[name])) item.append(changesTable(changes, names));
    else item.append(el('pre', 'json', pretty(record.changes)));
    return item;
  }

  // Who made it: the name before the id. A write made outside the app is the database's,
  // with the database user it was made as.
  function versionAuthor(actor) {
    const line = el('p', 'version-by');
    line.append('by ');
    if (!actor) {
      line.append(el('strong', null, 'unknown'));
      return line;
    }
    const hasId = actor.id !== undefined && actor.id !== null && actor.id !== '';
    if (actor.type === 'database') {
      line.append(el('strong', null, 'database'));
      if (hasId) line.append(' (user ', idText(actor.id), ')');
      return line;
    }
    line.append(el('strong', null, actor.name || (hasId ? String(actor.id) : actor.type)));
    const detail = el('span', 'version-who');
    detail.append(' \u00b7 ' + actor.type);
    if (actor.name && hasId) detail.append(' \u00b7 ', idText(actor.id));
    line.append(detail);
    return line;
  }

  // ---- the chart ----------------------------------------------------------------------

  function chartNote(text) {
    $('legend').replaceChildren();
    $('chart-caption').textContent = '';
    $('chart').replaceChildren(el('p', 'chart-note', text));
  }

  function keyDay(key) {
    const parts = key.split('-').map(Number);
    return { y: parts[0], m: parts[1], d: parts[2] };
  }
  function nextDayKey(key) {
    const day = keyDay(key);
    return new Date(Date.UTC(day.y, day.m - 1, day.d + 1)).toISOString().slice(0, 10);
  }

  function isUtcName(tz) {
    return /^(etc\/)?(utc|gmt|uct|zulu|universal|greenwich)$/i.test(String(tz));
  }
  // The start of the zone's hour after the one starting at time (hour keys are the instant
  // the zone's hour starts). Not time + 1 hour: across Lord Howe's half-hour change the next
  // hour starts 30 minutes later or 90, and its key would be missed. Read from the wall clock
  // of the browser's zone (the chart is in it unless UTC).
  function nextHourStart(time, utc) {
    for (let candidate = time + HOUR; candidate <= time + 3 * HOUR; candidate += 15 * 60000) {
      const date = new Date(candidate);
      const into = utc ? date.getUTCMinutes() * 60000 + date.getUTCSeconds() * 1000 : date.getMinutes() * 60000 + date.getSeconds() * 1000;
      if (candidate - into > time) return candidate - into;
    }
    return time + HOUR;
  }

  function niceMax(value) {
    if (value <= 10) return Math.max(2, Math.ceil(value / 2) * 2);
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return value;
  }

  // Bars from the buckets, empty ones filled in: days step by calendar day, hours by an hour.
  function barsOf(summary) {
    const by = summary.by;
    const buckets = Array.isArray(summary.buckets) ? summary.buckets : [];
    const counts = new Map();
    for (const bucket of buckets) {
      const c = {};
      for (const status of STATUSES) c[status] = bucket.byStatus && typeof bucket.byStatus[status] === 'number' ? bucket.byStatus[status] : 0;
      counts.set(bucket.key, c);
    }
    const keys = Array.from(counts.keys()).sort();
    let bars = [];
    if (by === 'day') {
      for (let key = keys[0]; key <= keys[keys.length - 1] && bars.length < 5000; key = nextDayKey(key)) bars.push(key);
    } else {
      const utc = isUtcName(summary.tz);
      for (let time = Date.parse(keys[0]); time <= Date.parse(keys[keys.length - 1]) && bars.length < 5000; time = nextHourStart(time, utc)) bars.push(new Date(time).toISOString());
    }
    // Every bucket the API returned is drawn, even one the walk did not step on.
    const walked = new Set(bars);
    const missing = keys.filter((key) => !walked.has(key));
    if (missing.length > 0) bars = bars.concat(missing).sort();
    const empty = { success: 0, failure: 0, denied: 0 };
    return { bars: bars.slice(-MAX_BARS).map((key) => ({ key, counts: counts.get(key) || empty })), clipped: bars.length > MAX_BARS };
  }

  // The times of a bar. An hour ends an hour after its key; it starts at its key, or where the
  // hour before it ended when that is later (Lord Howe's second 01:00 is keyed 14:30Z, but its
  // records start at 15:00Z, where the first 01:00 ends).
  function barRange(by, key, previousKey) {
    if (by === 'day') {
      const day = keyDay(key);
      return { from: dayStart(day.y, day.m, day.d, 0), to: dayStart(day.y, day.m, day.d, 1) };
    }
    const time = Date.parse(key);
    const from = previousKey ? Math.max(time, Date.parse(previousKey) + HOUR) : time;
    return { from: from, to: time + HOUR };
  }

  function barLabel(by, key, long) {
    if (by === 'day') return long ? key : key.slice(5);
    // Read at the hour's last millisecond: a key is the instant the zone's hour starts, which
    // after a change backwards is nominal (Lord Howe's second 01:00 is keyed 14:30Z, when the
    // clock still read 01:30).
    const last = Date.parse(key) + HOUR - 1;
    const hour = pad(wall(last).h) + ':00';
    return long ? dateText(last) + ' ' + hour : hour;
  }

  function drawChart() {
    const summary = state.summary;
    if (!summary) {
      chartNote('This store cannot summarize, so there is no chart.');
      return;
    }
    const by = summary.by;
    const buckets = Array.isArray(summary.buckets) ? summary.buckets : [];
    const totals = { success: 0, failure: 0, denied: 0 };
    for (const bucket of buckets) for (const status of STATUSES) totals[status] += (bucket.byStatus && bucket.byStatus[status]) || 0;
    const legend = $('legend');
    legend.replaceChildren();
    for (const status of STATUSES) {
      const item = el('span');
      item.append(el('i', 'swatch swatch-' + status), document.createTextNode(status + ' ' + totals[status]));
      legend.append(item);
    }
    const chart = $('chart');
    if (buckets.length === 0) {
      $('chart-caption').textContent = typeof summary.note === 'string' ? summary.note : '';
      chart.replaceChildren(el('p', 'chart-note', 'No events in this range.'));
      return;
    }
    const drawn = barsOf(summary);
    const bars = drawn.bars;
    // A note (the zone could not be used: the chart is in UTC) is said next to the caption.
    $('chart-caption').textContent = (by === 'hour' ? 'per hour' : 'per day') + ' (' + summary.tz + ')' + (drawn.clipped ? ', latest ' + MAX_BARS : '') + (typeof summary.note === 'string' ? ' \u2014 ' + summary.note : '');

    // Drawn at the card's own width, so text keeps its size on a phone.
    const width = Math.max(240, Math.round(chart.clientWidth - 32) || 800);
    const height = width < 500 ? 150 : 170;
    const left = 34;
    const right = 8;
    const top = 10;
    const bottom = 22;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const max = niceMax(Math.max.apply(null, bars.map((bar) => bar.counts.success + bar.counts.failure + bar.counts.denied)));
    const slot = plotWidth / bars.length;
    const barWidth = Math.max(2, Math.min(36, slot * 0.7));

    const root = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img', 'aria-label': 'Events ' + (by === 'hour' ? 'per hour' : 'per day') + ' by status, ' + summary.tz });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotHeight - fraction * plotHeight;
      root.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y, y2: y }));
      const label = svg('text', { class: 'axis', x: left - 6, y: y + 3, 'text-anchor': 'end' });
      label.textContent = String(Math.round(max * fraction * 10) / 10);
      root.append(label);
    }
    const labelEvery = Math.max(1, Math.ceil(bars.length / Math.max(2, Math.floor(plotWidth / 70))));
    bars.forEach((bar, index) => {
      const x = left + index * slot + (slot - barWidth) / 2;
      const group = svg('g', { class: 'bar' });
      const title = svg('title', {});
      title.textContent = barLabel(by, bar.key, true) + ': ' + STATUSES.map((s) => bar.counts[s] + ' ' + s).join(', ');
      group.append(title);
      let y = top + plotHeight;
      for (const status of STATUSES) {
        const count = bar.counts[status];
        if (!count) continue;
        const h = (count / max) * plotHeight;
        y -= h;
        group.append(svg('rect', { class: 'seg-' + status, x: x.toFixed(2), y: y.toFixed(2), width: barWidth.toFixed(2), height: Math.max(1, h).toFixed(2), rx: Math.min(2, barWidth / 4) }));
      }
      // An empty slot still gets a hit area, so every bucket can be clicked into.
      group.append(svg('rect', { x: (left + index * slot).toFixed(2), y: top, width: slot.toFixed(2), height: plotHeight, fill: 'transparent' }));
      group.addEventListener('click', () => {
        const range = barRange(by, bar.key, index > 0 ? bars[index - 1].key : null);
        const next = Object.assign({}, state.view, { filters: new URLSearchParams(state.view.filters), cursors: [], all: false });
        next.filters.set('from', new Date(range.from).toISOString());
        next.filters.set('to', new Date(range.to).toISOString());
        navigate(next);
      });
      root.append(group);
      if (index % labelEvery === 0) {
        const label = svg('text', { class: 'axis', x: (left + index * slot + slot / 2).toFixed(2), y: height - 6, 'text-anchor': 'middle' });
        label.textContent = barLabel(by, bar.key, false);
        root.append(label);
      }
    });
    chart.replaceChildren(root);
  }

  // ---- wiring -------------------------------------------------------------------------

  $('zone-local').textContent = 'Local (' + LOCAL_ZONE + ')';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const view = formView();
    if (view) navigate(view);
  });
  // The zone and the own-reads toggle apply at once; a target's history stays open, in the new zone.
  for (const id of ['f-tz', 'f-reads']) {
    $(id).addEventListener('change', () => {
      const view = formView();
      if (!view) return;
      view.history = state.view.history;
      navigate(view, Boolean(view.history));
    });
  }
  $('history-more').addEventListener('click', () => {
    if (state.history && state.history.nextCursor) void loadHistory(state.history.nextCursor);
  });
  // Back where the history was opened from, when it was (else to the list of the same filters).
  $('history-back').addEventListener('click', () => {
    if (state.historyPushed) {
      state.historyPushed = false;
      history.back();
      return;
    }
    navigate(Object.assign({}, state.view, { history: null }));
  });
  $('clear').addEventListener('click', () => {
    const view = defaultView(state.view.utc);
    if (state.view.filters.get('limit')) view.filters.set('limit', state.view.filters.get('limit'));
    navigate(view);
  });
  $('next').addEventListener('click', () => {
    if (state.nextCursor) goToPage(state.view.cursors.concat([state.nextCursor]));
  });
  $('prev').addEventListener('click', () => {
    if (state.view.cursors.length > 0) goToPage(state.view.cursors.slice(0, -1));
  });
  $('close-detail').addEventListener('click', () => closeDetail());
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && $('detail').classList.contains('open')) {
      event.preventDefault();
      closeDetail();
    }
  });
  $('verify').addEventListener('click', () => void verifyRange());
  $('more-filters').addEventListener('click', () => {
    const expanded = form.classList.toggle('expanded');
    $('more-filters').setAttribute('aria-expanded', String(expanded));
    $('more-filters').textContent = expanded ? 'Fewer filters' : 'More filters';
  });
  let resizing = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (state.summary && !state.view.history) drawChart();
    }, 100);
  });
  // The default range is written into the URL, so a link or a reload shows the same days.
  function showFromUrl() {
    const view = readView();
    const query = viewQuery(view);
    if (query !== location.search.replace(/^\?/, '')) history.replaceState(null, '', location.pathname + (query ? '?' + query : ''));
    show(view);
  }
  window.addEventListener('popstate', showFromUrl);
  showFromUrl();
})();
`;
