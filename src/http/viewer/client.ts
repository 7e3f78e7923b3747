/**
 * The viewer's browser script: plain ES2020, no dependencies, inlined into the page and
 * allowed by its hash in the page's Content-Security-Policy (which also enables Trusted
 * Types, so an `innerHTML` assignment would throw rather than parse markup).
 *
 * Every value from the log reaches the page through `textContent`, `setAttribute` or an
 * SVG `<title>`'s text: record data is never parsed as markup.
 *
 * The page is served at the mount point of the logs API, so the API's base path is the
 * page's own path: that holds behind a proxy that adds or strips a prefix, too.
 *
 * Written as a string (no backticks or template substitutions inside) so that the library
 * needs no build step of its own for it and the same text is hashed and served everywhere.
 */
export const VIEWER_SCRIPT = String.raw`
(() => {
  'use strict';
  const FORM_FILTERS = ['from', 'to', 'actorType', 'actorId', 'action', 'status'];
  const EXTRA_FILTERS = ['targetType', 'targetId', 'tenantId'];
  const KEPT = ['limit'];
  const STATUSES = ['success', 'failure', 'denied'];
  const HOUR = 3600000;
  const DAY = 86400000;
  const MAX_BARS = 60;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const LABELS = { targetType: 'target type', targetId: 'target id', tenantId: 'tenant' };

  const base = location.pathname.replace(/\/+$/, '');
  const $ = (id) => document.getElementById(id);
  const form = $('filters');

  const state = { filters: new URLSearchParams(), cursors: [null], page: 0, nextCursor: null, items: [], selectedId: null, loads: 0, charts: 0 };

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
    for (const name of ['from', 'to']) if (state.filters.get(name)) params.set(name, state.filters.get(name));
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
      value.textContent = error.status === 501 ? 'sealed (not checked: no integrity key here)' : 'could not check: ' + error.message;
    }
  }

  const pad = (n) => String(n).padStart(2, '0');
  function localDate(date) {
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate());
  }
  function formatTime(value) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return localDate(date) + ' ' + pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }
  function dateInputValue(iso, shiftMs) {
    if (!iso) return '';
    const time = Date.parse(/^\d+$/.test(iso) ? new Date(Number(iso)).toISOString() : iso);
    return Number.isNaN(time) ? '' : localDate(new Date(time + shiftMs));
  }
  function isoFromDateInput(value, addDays) {
    const parts = value.split('-').map(Number);
    return new Date(parts[0], parts[1] - 1, parts[2] + addDays).toISOString();
  }
  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  // ---- filters and the URL ------------------------------------------------------------

  function readFilters() {
    const url = new URLSearchParams(location.search);
    const params = new URLSearchParams();
    for (const name of FORM_FILTERS.concat(EXTRA_FILTERS, KEPT)) {
      const value = url.get(name);
      if (value) params.set(name, value);
    }
    return params;
  }

  function fillForm() {
    const f = state.filters;
    $('f-from').value = dateInputValue(f.get('from'), 0);
    $('f-to').value = dateInputValue(f.get('to'), -1);
    for (const name of ['actorType', 'actorId', 'action', 'status']) $('f-' + name).value = f.get(name) || '';
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
        const next = new URLSearchParams(state.filters);
        next.delete(name);
        navigate(next);
      });
      chip.append(remove);
      extra.append(chip);
    }
    extra.hidden = extra.childElementCount === 0;
  }

  function formFilters() {
    const params = new URLSearchParams();
    const from = $('f-from').value;
    const to = $('f-to').value;
    if (from) params.set('from', isoFromDateInput(from, 0));
    if (to) params.set('to', isoFromDateInput(to, 1));
    for (const name of ['actorType', 'actorId', 'action', 'status']) {
      const value = $('f-' + name).value.trim();
      if (value) params.set(name, value);
    }
    for (const name of EXTRA_FILTERS.concat(KEPT)) {
      const value = state.filters.get(name);
      if (value) params.set(name, value);
    }
    return params;
  }

  function navigate(params) {
    const query = params.toString();
    history.pushState(null, '', location.pathname + (query ? '?' + query : ''));
    show(params);
  }

  function show(params) {
    state.filters = params;
    state.cursors = [null];
    state.page = 0;
    fillForm();
    updateExports();
    loadPage();
    loadChart();
  }

  function updateExports() {
    const params = new URLSearchParams(state.filters);
    params.delete('limit');
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
    box.textContent = error.status === 403 ? 'You are not allowed to read the activity log.' : String(error.message || error);
    box.hidden = false;
  }

  // ---- the table ----------------------------------------------------------------------

  function statusBadge(status) {
    const known = STATUSES.indexOf(status) >= 0 ? status : 'other';
    return el('span', 'badge badge-' + known, status || 'unknown');
  }

  function twoLines(primary, secondary) {
    const cell = el('td');
    cell.append(el('span', 'primary-text', primary));
    if (secondary) cell.append(el('span', 'secondary-text', secondary));
    return cell;
  }

  function actorLines(actor) {
    if (!actor) return ['\u2014', ''];
    const who = actor.name || actor.id || actor.type;
    const detail = actor.name && actor.id ? actor.type + ' \u00b7 ' + actor.id : actor.name || actor.id ? actor.type : '';
    return [who, detail];
  }

  function targetLines(target) {
    if (!target) return ['\u2014', ''];
    return [target.name || target.id, target.name ? target.type + ' \u00b7 ' + target.id : target.type];
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
      const time = el('time', null, formatTime(record.occurredAt));
      time.setAttribute('datetime', String(record.occurredAt));
      time.title = String(record.occurredAt);
      timeCell.append(time);
      const actor = actorLines(record.actor);
      const target = targetLines(record.target);
      const statusCell = el('td');
      statusCell.append(statusBadge(record.status));
      row.append(timeCell, twoLines(actor[0], actor[1]), el('td', 'col-action', record.action), twoLines(target[0], target[1]), statusCell);
      row.addEventListener('click', () => select(record));
      row.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          select(record);
        }
      });
      rows.append(row);
    }
    $('empty').hidden = state.items.length > 0 || !$('error').hidden;
    $('page-label').textContent = 'Page ' + (state.page + 1);
    $('prev').disabled = state.page === 0;
    $('next').disabled = !state.nextCursor;
  }

  async function loadPage() {
    const load = ++state.loads;
    const params = new URLSearchParams(state.filters);
    const cursor = state.cursors[state.page];
    if (cursor) params.set('cursor', cursor);
    document.body.classList.add('busy');
    try {
      const body = await getJson(apiUrl('', params));
      if (load !== state.loads) return;
      state.items = Array.isArray(body && body.items) ? body.items : [];
      state.nextCursor = body && typeof body.nextCursor === 'string' ? body.nextCursor : null;
      showError(null);
    } catch (error) {
      if (load !== state.loads) return;
      state.items = [];
      state.nextCursor = null;
      showError(error);
    } finally {
      if (load === state.loads) {
        document.body.classList.remove('busy');
        renderTable();
      }
    }
  }

  // ---- the detail panel ---------------------------------------------------------------

  function field(list, name, value, mono) {
    if (value === undefined || value === null || value === '') return;
    list.append(el('dt', null, name));
    const dd = el('dd', mono ? 'mono' : null);
    if (value instanceof Node) dd.append(value);
    else dd.textContent = String(value);
    list.append(dd);
  }

  function jsonSection(body, title, value) {
    body.append(el('h3', null, title));
    if (value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)) {
      body.append(el('p', 'muted', 'None'));
      return;
    }
    body.append(el('pre', 'json', pretty(value)));
  }

  // Stored changes are the changed fields only: { field: { before, after } }.
  function changesSection(body, changes) {
    const names = changes && typeof changes === 'object' ? Object.keys(changes) : [];
    const isDiff = names.length > 0 && names.every((name) => changes[name] && typeof changes[name] === 'object' && 'before' in changes[name] && 'after' in changes[name]);
    if (!isDiff) return jsonSection(body, 'Changes', changes);
    body.append(el('h3', null, 'Changes'));
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
    body.append(table);
  }

  function filterButton(label, params) {
    const button = el('button', null, label);
    button.type = 'button';
    button.addEventListener('click', () => {
      const next = new URLSearchParams(state.filters);
      for (const name of Object.keys(params)) next.set(name, params[name]);
      navigate(next);
    });
    return button;
  }

  function select(record) {
    state.selectedId = record.id;
    for (const row of $('rows').children) row.classList.toggle('selected', row.dataset.id === record.id);
    const body = $('detail-body');
    body.replaceChildren();
    const title = el('div', 'detail-title');
    title.append(el('span', null, record.action), statusBadge(record.status));
    body.append(title);

    const list = el('dl', 'fields');
    const time = el('span', null, formatTime(record.occurredAt));
    time.title = String(record.occurredAt);
    field(list, 'Time', time);
    field(list, 'ID', record.id, true);
    if (record.actor) field(list, 'Actor', [record.actor.type, record.actor.id, record.actor.name].filter(Boolean).join(' \u00b7 '));
    if (record.target) field(list, 'Target', [record.target.type, record.target.id, record.target.name].filter(Boolean).join(' \u00b7 '));
    field(list, 'Tenant', record.tenantId, true);
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
    if (record.actor && record.actor.id) actions.append(filterButton('Only this actor', { actorType: record.actor.type, actorId: record.actor.id }));
    if (record.target) actions.append(filterButton('Only this target', { targetType: record.target.type, targetId: record.target.id }));
    actions.append(filterButton('Only this action', { action: record.action }));
    body.append(actions);
    $('detail').classList.add('open');
  }

  function closeDetail() {
    state.selectedId = null;
    for (const row of $('rows').children) row.classList.remove('selected');
    const body = $('detail-body');
    body.replaceChildren(el('p', 'muted', 'Select an event to see its metadata, changes and context.'));
    $('detail').classList.remove('open');
  }

  // ---- the chart ----------------------------------------------------------------------

  function rangeSpan() {
    const from = Date.parse(state.filters.get('from') || '');
    const to = Date.parse(state.filters.get('to') || '');
    if (Number.isNaN(from) || Number.isNaN(to)) return null;
    return to - from;
  }

  async function loadChart() {
    const load = ++state.charts;
    const params = new URLSearchParams(state.filters);
    params.delete('limit');
    const span = rangeSpan();
    let by = span !== null && span <= 3 * DAY ? 'hour' : 'day';
    try {
      params.set('by', by);
      let body = await getJson(apiUrl('/summary', params));
      if (by === 'day' && span === null && Array.isArray(body.buckets) && body.buckets.length <= 2) {
        by = 'hour';
        params.set('by', by);
        body = await getJson(apiUrl('/summary', params));
      }
      if (load !== state.charts) return;
      drawChart(by, Array.isArray(body.buckets) ? body.buckets : []);
    } catch (error) {
      if (load !== state.charts) return;
      $('legend').replaceChildren();
      $('chart-caption').textContent = '';
      const note =
        error.status === 501 ? 'This store cannot summarize, so there is no chart.' : error.status === 400 || error.status === 403 ? 'No chart for these filters.' : 'No chart: ' + String(error.message || error);
      $('chart').replaceChildren(el('p', 'chart-note', note));
    }
  }

  function bucketTime(by, key) {
    return Date.parse(by === 'day' ? key + 'T00:00:00.000Z' : key);
  }

  function bucketLabel(by, time, long) {
    const date = new Date(time);
    if (by === 'day') return date.toISOString().slice(long ? 0 : 5, 10);
    const hour = pad(date.getHours()) + ':00';
    return long ? localDate(date) + ' ' + hour : hour;
  }

  function niceMax(value) {
    if (value <= 10) return Math.max(2, Math.ceil(value / 2) * 2);
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return value;
  }

  function drawChart(by, buckets) {
    const step = by === 'hour' ? HOUR : DAY;
    const byTime = new Map();
    const totals = { success: 0, failure: 0, denied: 0 };
    for (const bucket of buckets) {
      const time = bucketTime(by, bucket.key);
      if (Number.isNaN(time)) continue;
      const counts = {};
      for (const status of STATUSES) {
        counts[status] = bucket.byStatus && typeof bucket.byStatus[status] === 'number' ? bucket.byStatus[status] : 0;
        totals[status] += counts[status];
      }
      byTime.set(time, counts);
    }
    const legend = $('legend');
    legend.replaceChildren();
    for (const status of STATUSES) {
      const item = el('span');
      item.append(el('i', 'swatch swatch-' + status), document.createTextNode(status + ' ' + totals[status]));
      legend.append(item);
    }
    const chart = $('chart');
    if (byTime.size === 0) {
      $('chart-caption').textContent = '';
      chart.replaceChildren(el('p', 'chart-note', 'No events in this range.'));
      return;
    }
    const times = Array.from(byTime.keys()).sort((a, b) => a - b);
    const last = times[times.length - 1];
    const first = Math.max(times[0], last - (MAX_BARS - 1) * step);
    const bars = [];
    for (let time = first; time <= last; time += step) bars.push({ time, counts: byTime.get(time) || { success: 0, failure: 0, denied: 0 } });
    const clipped = times[0] < first;
    $('chart-caption').textContent = (by === 'hour' ? 'per hour' : 'per day (UTC)') + (clipped ? ', latest ' + MAX_BARS : '');

    const width = 800;
    const height = 170;
    const left = 34;
    const right = 8;
    const top = 10;
    const bottom = 22;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const max = niceMax(Math.max.apply(null, bars.map((bar) => bar.counts.success + bar.counts.failure + bar.counts.denied)));
    const slot = plotWidth / bars.length;
    const barWidth = Math.max(2, Math.min(36, slot * 0.7));

    const root = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'Events over time by status' });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotHeight - fraction * plotHeight;
      root.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y, y2: y }));
      const label = svg('text', { class: 'axis', x: left - 6, y: y + 3, 'text-anchor': 'end' });
      label.textContent = String(Math.round(max * fraction * 10) / 10);
      root.append(label);
    }
    const labelEvery = Math.max(1, Math.ceil(bars.length / 8));
    bars.forEach((bar, index) => {
      const x = left + index * slot + (slot - barWidth) / 2;
      const group = svg('g', { class: 'bar' });
      const title = svg('title', {});
      title.textContent = bucketLabel(by, bar.time, true) + ': ' + STATUSES.map((s) => bar.counts[s] + ' ' + s).join(', ');
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
        const next = new URLSearchParams(state.filters);
        next.set('from', new Date(bar.time).toISOString());
        next.set('to', new Date(bar.time + step).toISOString());
        navigate(next);
      });
      root.append(group);
      if (index % labelEvery === 0) {
        const label = svg('text', { class: 'axis', x: (left + index * slot + slot / 2).toFixed(2), y: height - 6, 'text-anchor': 'middle' });
        label.textContent = bucketLabel(by, bar.time, false);
        root.append(label);
      }
    });
    chart.replaceChildren(root);
  }

  // ---- wiring -------------------------------------------------------------------------

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(formFilters());
  });
  $('clear').addEventListener('click', () => {
    const params = new URLSearchParams();
    for (const name of KEPT) if (state.filters.get(name)) params.set(name, state.filters.get(name));
    navigate(params);
  });
  $('next').addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.cursors = state.cursors.slice(0, state.page + 1);
    state.cursors.push(state.nextCursor);
    state.page += 1;
    loadPage();
  });
  $('prev').addEventListener('click', () => {
    if (state.page === 0) return;
    state.page -= 1;
    loadPage();
  });
  $('close-detail').addEventListener('click', closeDetail);
  $('verify').addEventListener('click', () => void verifyRange());
  window.addEventListener('popstate', () => show(readFilters()));
  show(readFilters());
})();
`;
