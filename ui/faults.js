// Faults on the page: a listener's faults (GET /v1/listeners/{name}/faults), read again
// whenever a live event says they changed, and a session's log of the faults that met it.

import { APIError, getJSON } from './api.js';
import { $, el, replaceChildren, setText } from './dom.js';
import { time } from './format.js';

const faultEvents = new Set(['fault.added', 'fault.changed', 'fault.removed']);
const listenerEvents = new Set(['listener.created', 'listener.deleted', 'listener.failed']);

export class ListenerFaults {
  constructor() {
    this.listener = null;
    this.controller = null;
  }

  /** The faults of one listener, or none (null) when no listener's view is open. */
  show(listener) {
    if (listener === this.listener) return;
    this.listener = listener;
    replaceChildren($('#listener-faults-table tbody'), []);
    this.reload();
  }

  /** Reads the faults again if the events touch this listener's faults or the listener itself. */
  apply(events) {
    if (this.listener === null) return;
    const touched = events.some(({ type, data }) =>
      (faultEvents.has(type) && data.target === 'listener' && data.listener === this.listener)
      || (listenerEvents.has(type) && data.name === this.listener));
    if (touched) this.reload();
  }

  /**
   * The whole list is read rather than patched from the event: an event that came while an
   * earlier read was under way cannot then be lost or applied twice. Only the latest read draws.
   */
  reload() {
    this.controller?.abort();
    this.controller = null;
    const panel = $('#listener-faults');
    panel.hidden = this.listener === null;
    if (this.listener === null) return;
    const controller = new AbortController();
    this.controller = controller;
    const listener = this.listener;
    panel.dataset.loading = 'true';
    getJSON(`/v1/listeners/${encodeURIComponent(listener)}/faults`, { signal: controller.signal })
      .then((answer) => this.draw(answer.faults, ''))
      .catch((error) => {
        if (controller.signal.aborted) return;
        this.draw([], error instanceof APIError && error.status === 404 ? '' : error.message);
      })
      .finally(() => {
        if (this.controller === controller) panel.dataset.loading = 'false';
      });
  }

  draw(faults, problem) {
    setText($('#listener-faults-count'), faults.length ? `(${faults.length})` : '');
    replaceChildren($('#listener-faults-table tbody'), faults.map(faultRow));
    $('#listener-faults-table').hidden = faults.length === 0;
    $('#listener-faults-empty').hidden = faults.length > 0 || problem !== '';
    const error = $('#listener-faults-error');
    error.textContent = problem;
    error.hidden = problem === '';
  }
}

/** A session's `faults`: every fault that met it and whether its draw applied it. */
export function showSessionFaults(log) {
  const entries = log ?? [];
  $('#session-faults').hidden = entries.length === 0;
  replaceChildren($('#session-faults-table tbody'), entries.map((entry) => el(
    'tr',
    { 'data-fault': entry.name, 'data-applied': entry.applied ? 'true' : 'false' },
    el('td', { class: 'mono' }, entry.name),
    el('td', {}, entry.type),
    el('td', {}, entry.direction),
    el('td', {}, entry.applied ? 'applied' : 'passed by'),
    el('td', {}, time(entry.at)),
  )));
}

function faultRow(fault) {
  const attributes = Object.entries(fault.attributes ?? {}).map(([name, value]) => `${name}=${value}`).join(' ');
  return el(
    'tr',
    { 'data-fault': fault.name },
    el('td', { class: 'mono' }, fault.name),
    el('td', {}, fault.type),
    el('td', {}, fault.direction),
    el('td', { class: 'num' }, fault.toxicity),
    el('td', { class: 'mono' }, attributes),
  );
}
