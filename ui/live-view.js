// The live view: the listeners with their counters, one listener's settings (its faults are
// faults.js's), and the sessions (open and recently closed) in a list that draws only what is in view.

import { $, el, replaceChildren, setText } from './dom.js';
import { bytes, clock, count, origin } from './format.js';
import { VirtualList } from './vlist.js';

/** The height of a session row, as style.css sets it (.vrow). */
const rowHeight = 28;

export class LiveView {
  constructor(state) {
    this.state = state;
    this.listener = null;
    this.shownVersion = -1;
    this.list = new VirtualList($('#sessions-scroller'), {
      rowHeight,
      createRow: () => {
        const row = el('a', { class: 'session-row' });
        for (const name of ['opened', 'id', 'role', 'origin', 'remote', 'state', 'in', 'out', 'reason']) {
          row.append(el('span', { class: `c-${name}` }));
        }
        return row;
      },
      fillRow: (row, session) => fillSessionRow(row, session),
    });
    $('#sessions-open-only').addEventListener('change', () => this.renderSessions(true));
  }

  /** Shows every listener, or one (`#/listeners/NAME`) with its settings and its sessions. */
  focus(listener) {
    this.listener = listener;
    this.renderListeners();
    this.renderSessions(true);
  }

  render(changed = { listeners: true, sessions: true }) {
    if (changed.listeners) this.renderListeners();
    if (changed.sessions) this.renderSessions(false);
  }

  renderListeners() {
    const listeners = [...this.state.listeners.values()].sort((a, b) => a.name.localeCompare(b.name));
    setText($('#listeners-count'), listeners.length ? `(${listeners.length})` : '');
    $('#listeners-empty').hidden = listeners.length > 0;
    replaceChildren($('#listeners-table tbody'), listeners.map((listener) => listenerRow(listener, listener.name === this.listener)));
    this.renderDetail();
  }

  renderDetail() {
    const panel = $('#listener-detail');
    const listener = this.listener === null ? null : this.state.listeners.get(this.listener);
    panel.hidden = this.listener === null;
    if (this.listener === null) return;
    setText($('#listener-name'), this.listener);
    if (!listener) {
      replaceChildren($('#listener-facts'), [el('dt', {}, 'state'), el('dd', {}, 'no such listener (deleted?)')]);
      return;
    }
    const facts = [
      ['mode', listener.mode],
      ['address', listener.address],
      ['asked for', listener.requested_address],
      ['state', listener.error ? `${listener.state}: ${listener.error}` : listener.state],
      ['created', listener.created_at],
      ['capture', listener.capture ? 'on' : 'off'],
      ['max sessions', listener.max_sessions ?? 'service limit'],
    ];
    if (listener.mode === 'reply') facts.push(['reply', `${listener.reply} (${listener.reply_encoding})`], ['close after reply', listener.close_after_reply ? 'yes' : 'no']);
    if (listener.mode === 'forward') facts.push(['forward to', listener.forward_to], ['upstream failure', listener.on_upstream_failure]);
    const options = listener.options ?? {};
    facts.push(['options', Object.entries(options).filter(([, value]) => value !== null).map(([name, value]) => `${name} ${typeof value === 'object' ? JSON.stringify(value) : value}`).join(', ')]);
    replaceChildren($('#listener-facts'), facts.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value ?? '')]));
  }

  /** `force`: the filter changed, so the list is redone even if no session did. */
  renderSessions(force) {
    if (!force && this.shownVersion === this.state.version) return;
    this.shownVersion = this.state.version;
    const openOnly = $('#sessions-open-only').checked;
    const sessions = this.state.select({ listener: this.listener, openOnly });
    const open = this.state.openCount;
    const closed = this.state.sessions.size - open;
    const scope = this.listener === null ? '' : ` of ${this.listener}`;
    setText($('#sessions-count'), `${count(open)} open, ${count(closed)} recently closed; ${count(sessions.length)} listed${scope}`);
    $('#sessions-empty').hidden = sessions.length > 0;
    this.list.setItems(sessions);
  }
}

function listenerRow(listener, selected) {
  const mode = listener.mode === 'forward' ? `forward → ${listener.forward_to}` : listener.mode;
  return el(
    'tr',
    { class: selected ? 'selected' : null, 'data-listener': listener.name, 'data-state': listener.state },
    el('td', {}, el('a', { href: `#/listeners/${encodeURIComponent(listener.name)}` }, listener.name)),
    el('td', {}, mode),
    el('td', { class: 'mono' }, listener.address),
    el('td', { class: `state-${listener.state}` }, listener.state),
    el('td', { class: 'num', 'data-counter': 'open' }, count(listener.open_sessions)),
    el('td', { class: 'num', 'data-counter': 'total' }, count(listener.total_sessions)),
    el('td', { class: 'num', 'data-counter': 'rejected' }, count(listener.rejected_sessions)),
    el('td', { class: 'num' }, bytes(listener.bytes_in)),
    el('td', { class: 'num' }, bytes(listener.bytes_out)),
  );
}

function fillSessionRow(row, session) {
  row.href = `#/sessions/${session.id}`;
  row.dataset.session = session.id;
  row.dataset.state = session.state;
  const cells = row.children;
  setText(cells[0], clock(session.opened_at));
  setText(cells[1], session.id);
  setText(cells[2], session.role);
  setText(cells[3], origin(session));
  setText(cells[4], session.remote_address ?? '');
  setText(cells[5], session.state);
  setText(cells[6], bytes(session.bytes_in));
  setText(cells[7], bytes(session.bytes_out));
  setText(cells[8], session.close_reason ?? '');
}
