// One session: its facts and its transcript, each message as text and hex side by side. A
// live session is followed with long-polls (GET /v1/sessions/{id}/messages?wait=); one the
// service no longer holds comes from the history (GET /v1/history/{id}, and its captured
// messages when capture was on).

import { APIError, getJSON, withQuery } from './api.js';
import { $, el, replaceChildren, setText } from './dom.js';
import { showSessionFaults } from './faults.js';
import { bytes, count, time } from './format.js';
import { hexDump, messageBytes, textRuns } from './hex.js';

/** Past this many messages on the page the oldest leave it: the page stays quick on a long session. */
const maxShown = 2000;
/** Bytes of one message drawn at first; the rest on request. */
const textShown = 64 * 1024;
const hexShown = 4 * 1024;

export class TranscriptView {
  constructor() {
    this.controller = null;
    this.shown = 0;
    this.dropped = 0;
  }

  show(id) {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.shown = 0;
    this.dropped = 0;
    setText($('#session-id'), id);
    setText($('#session-source'), '');
    replaceChildren($('#session-facts'), []);
    showSessionFaults([]);
    replaceChildren($('#transcript'), []);
    this.note('');
    this.error('');
    this.load(id, controller.signal).catch((error) => {
      if (!controller.signal.aborted) this.error(error.message);
    });
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
  }

  async load(id, signal) {
    let session = null;
    try {
      session = await getJSON(`/v1/sessions/${encodeURIComponent(id)}`, { signal });
    } catch (error) {
      if (!(error instanceof APIError && error.status === 404)) throw error;
    }
    if (session) {
      this.facts(session, 'live');
      await this.follow(session, signal);
      if (this.shown === 0 && session.capture) await this.captured(id, signal);
      return;
    }
    await this.captured(id, signal);
  }

  /** Reads on until the session closes; each answer waits up to 25 s for more. */
  async follow(session, signal) {
    const id = encodeURIComponent(session.id);
    let after = 0;
    let first = true;
    for (;;) {
      let page;
      try {
        page = await getJSON(withQuery(`/v1/sessions/${id}/messages`, { after, wait: first ? 0 : 25, encoding: 'base64' }), { signal });
      } catch (error) {
        // Closed and gone from memory while we read: what is left is in the history.
        if (error instanceof APIError && error.status === 404) return;
        throw error;
      }
      if (first && page.first_seq > 1) this.note(`Messages before #${page.first_seq} are no longer kept in memory.`);
      if (first && page.messages.length === 0 && session.listener && session.partner_id) {
        this.note('A relayed session keeps no transcript in memory; a listener with capture on records it in the history.');
      }
      first = false;
      this.append(page.messages);
      after = page.next;
      if (page.messages.length > 0 || page.session_state !== 'open') {
        this.facts(await getJSON(`/v1/sessions/${id}`, { signal }), 'live');
      }
      if (page.session_state !== 'open') return;
      // The peer shut its side: a long-poll answers at once from now on, so ask less often.
      if (page.peer_finished && page.messages.length === 0) await pause(1000, signal);
    }
  }

  /** The history's copy: the session, and its captured messages page by page. */
  async captured(id, signal) {
    const path = encodeURIComponent(id);
    const session = await getJSON(`/v1/history/${path}`, { signal });
    this.facts(session, 'history');
    if (!session.capture) {
      if (this.shown === 0) this.note('This session was not captured (capture off), so its bytes were not recorded.');
      return;
    }
    let after = 0;
    for (;;) {
      const page = await getJSON(withQuery(`/v1/history/${path}/messages`, { after, limit: 1000, encoding: 'base64' }), { signal });
      this.append(page.messages);
      if (page.truncated) this.note('The capture reached --capture-limit: later bytes were not recorded.');
      if (page.messages.length < 1000) return;
      after = page.next;
    }
  }

  facts(session, source) {
    setText($('#session-source'), source === 'live' ? 'live' : 'from the history');
    const link = (href, text) => el('a', { href }, text);
    const rows = [
      ['role', session.role],
      ['listener', session.listener ? link(`#/listeners/${encodeURIComponent(session.listener)}`, session.listener) : ''],
      ['name', session.name ?? ''],
      ['local', session.local_address ?? ''],
      ['remote', session.remote_address ?? ''],
      ['state', session.state],
      ['opened', time(session.opened_at)],
      ['closed', time(session.closed_at)],
      ['reason', session.close_reason ?? ''],
      ['bytes in', `${bytes(session.bytes_in)} (${count(session.bytes_in)})`],
      ['bytes out', `${bytes(session.bytes_out)} (${count(session.bytes_out)})`],
      ['capture', session.capture ? (session.capture_truncated ? 'on, truncated' : 'on') : 'off'],
      ['partner', session.partner_id ? link(`#/sessions/${session.partner_id}`, session.partner_id) : ''],
    ];
    const facts = $('#session-facts');
    facts.dataset.state = session.state;
    replaceChildren(facts, rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', { 'data-fact': name, class: value === '' ? 'none' : null }, value)]));
    showSessionFaults(session.faults);
  }

  append(messages) {
    if (messages.length === 0) return;
    const transcript = $('#transcript');
    const fragment = document.createDocumentFragment();
    for (const message of messages) fragment.append(messageElement(message));
    transcript.append(fragment);
    this.shown += messages.length;
    while (transcript.children.length > maxShown) {
      transcript.firstElementChild.remove();
      this.dropped += 1;
    }
    if (this.dropped) this.note(`The ${count(this.dropped)} oldest messages left the page; the API still has them.`);
  }

  note(text) {
    const note = $('#transcript-note');
    note.textContent = text;
    note.hidden = !text;
  }

  error(text) {
    const error = $('#session-error');
    error.textContent = text;
    error.hidden = !text;
  }
}

function messageElement(message) {
  const data = messageBytes(message);
  const arrow = message.direction === 'in' ? 'in ←' : 'out →';
  const text = el('pre', { class: 'text' }, ...textNodes(data.subarray(0, textShown)));
  const hex = el('pre', { class: 'hex' }, hexDump(data.subarray(0, hexShown)));
  const article = el(
    'article',
    { class: `message ${message.direction}`, 'data-seq': message.seq },
    el('header', {}, el('span', { class: 'dir' }, arrow), el('span', { class: 'seq' }, `#${message.seq}`), el('time', {}, time(message.at)), el('span', {}, bytes(message.bytes))),
    el('div', { class: 'columns' }, text, hex),
  );
  if (data.length > hexShown) {
    const more = el('button', { type: 'button', class: 'more' }, `show all ${count(data.length)} bytes`);
    more.addEventListener('click', () => {
      text.replaceChildren(...textNodes(data));
      hex.textContent = hexDump(data);
      more.remove();
    });
    article.append(more);
  }
  return article;
}

function textNodes(data) {
  return textRuns(data).map(([kind, text]) => (kind === 'escape' ? el('span', { class: 'escape' }, text) : text));
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
