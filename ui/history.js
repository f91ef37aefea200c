// The history (GET /v1/history): its filters, and one page at a time. The service pages on
// the session id with a cursor, so a page costs the same at the millionth row as at the first;
// the page holds the cursors it came through to go back.

import { getJSON, withQuery } from './api.js';
import { $, el, replaceChildren, setText } from './dom.js';
import { bytes, count, origin, time } from './format.js';

export const filterNames = ['listener', 'name', 'role', 'state', 'remote', 'since', 'until', 'min_bytes', 'limit'];

export class HistoryView {
  constructor(navigate) {
    this.navigate = navigate;
    this.controller = null;
    /** The cursors of the pages before this one, for "Newer"; reset when the filters change. */
    this.previous = [];
    this.filterKey = '';
    this.cursor = '';
    this.nextCursor = null;
    const form = $('#history-filter');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.previous = [];
      this.go(this.formFilters(), '');
    });
    form.addEventListener('reset', (event) => {
      event.preventDefault();
      this.previous = [];
      this.go({}, '');
    });
    $('#history-next').addEventListener('click', () => {
      if (this.nextCursor === null) return;
      this.previous.push(this.cursor);
      this.go(this.filters, this.nextCursor);
    });
    $('#history-newer').addEventListener('click', () => this.go(this.filters, this.previous.pop() ?? ''));
    $('#history-first').addEventListener('click', () => {
      this.previous = [];
      this.go(this.filters, '');
    });
  }

  formFilters() {
    const filters = {};
    for (const name of filterNames) {
      const value = $(`#history-filter [name="${name}"]`).value.trim();
      if (value) filters[name] = value;
    }
    return filters;
  }

  go(filters, cursor) {
    this.navigate(withQuery('#/history', { ...filters, cursor }));
  }

  /** `#/history?listener=x&cursor=...`: fills the form from the route and loads that page. */
  show(parameters) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const filters = {};
    for (const name of filterNames) {
      const value = parameters.get(name);
      $(`#history-filter [name="${name}"]`).value = value ?? (name === 'limit' ? '100' : '');
      if (value) filters[name] = value;
    }
    const key = JSON.stringify(filters);
    if (key !== this.filterKey) this.previous = [];
    this.filterKey = key;
    this.filters = filters;
    this.cursor = parameters.get('cursor') ?? '';
    this.load(controller.signal).catch((error) => {
      if (controller.signal.aborted) return;
      $('#history-error').textContent = error.message;
      $('#history-error').hidden = false;
      $('#history-table').dataset.loading = 'false';
    });
  }

  stop() {
    this.controller?.abort();
  }

  async load(signal) {
    const start = performance.now();
    $('#history-error').hidden = true;
    const table = $('#history-table');
    table.dataset.loading = 'true';
    const page = await getJSON(withQuery('/v1/history', { ...this.filters, cursor: this.cursor }), { signal });
    this.nextCursor = page.next_cursor;
    replaceChildren($('#history-table tbody'), page.sessions.map(historyRow));
    $('#history-empty').hidden = page.sessions.length > 0;
    $('#history-next').disabled = page.next_cursor === null;
    $('#history-newer').disabled = this.previous.length === 0;
    $('#history-first').disabled = this.cursor === '';
    const number = this.previous.length + 1;
    setText($('#history-page'), `page ${number}${this.cursor && !this.previous.length ? ' (from a link)' : ''}: ${count(page.sessions.length)} sessions`);
    table.dataset.loading = 'false';
    table.dataset.query = JSON.stringify(this.filters);
    // Read by the browser test: the request to the page drawn, per filter.
    performance.measure('sb:history-page', { start, end: performance.now(), detail: { filters: this.filters, rows: page.sessions.length } });
  }
}

function historyRow(session) {
  return el(
    'tr',
    { 'data-session': session.id, 'data-state': session.state },
    el('td', { class: 'mono' }, el('a', { href: `#/sessions/${session.id}` }, session.id)),
    el('td', {}, time(session.opened_at)),
    el('td', {}, session.role),
    el('td', {}, origin(session)),
    el('td', { class: 'mono' }, session.remote_address ?? ''),
    el('td', { class: `state-${session.state}` }, session.state),
    el('td', { class: 'num' }, bytes(session.bytes_in)),
    el('td', { class: 'num' }, bytes(session.bytes_out)),
    el('td', {}, session.close_reason ?? ''),
  );
}
