// The page: routes (#/, #/listeners/NAME, #/sessions/ID, #/history?...), the live feed and the
// snapshot it starts from, and the service's facts in the header.

import { getJSON } from './api.js';
import { $, setText } from './dom.js';
import { EventFeed } from './events.js';
import { ListenerFaults } from './faults.js';
import { throttled } from './frame.js';
import { HistoryView } from './history.js';
import { LiveState } from './live.js';
import { LiveView } from './live-view.js';
import { TranscriptView } from './transcript.js';

const state = new LiveState();
const liveView = new LiveView(state);
const faults = new ListenerFaults();
const transcript = new TranscriptView();
const history = new HistoryView((hash) => {
  if (location.hash === hash) route();
  else location.hash = hash;
});

// Events that came while the snapshot was being read, applied on top of it; null when none is.
let held = null;
let firstRender = true;

async function snapshot() {
  held = [];
  try {
    const [listeners, sessions] = await Promise.all([getJSON('/v1/listeners'), getJSON('/v1/sessions')]);
    state.snapshot(listeners.listeners, sessions.sessions);
    state.apply(held);
  } finally {
    held = null;
  }
  liveView.render();
  if (firstRender) {
    firstRender = false;
    performance.mark('sb:live-ready');
  }
}

// Listener counters move with every session; the listeners answer is read again at most once a
// second while sessions come and go, rather than the counters being worked out here.
const refreshCounters = throttled(async () => {
  try {
    const [listeners, info] = await Promise.all([getJSON('/v1/listeners'), getJSON('/v1/info')]);
    state.listeners = new Map(listeners.listeners.map((listener) => [listener.name, listener]));
    liveView.renderListeners();
    showInfo(info);
  } catch {
    // The feed's status says when the service cannot be reached.
  }
}, 1000);

function showInfo(info) {
  setText($('#service-info'), `v${info.version} · ${info.api ?? ''} · ${info.open_sessions} open · ${info.total_sessions} since start`);
}

const feed = new EventFeed('/v1/events?data=true', {
  onOpen: (resumed) => {
    if (!resumed) {
      snapshot().catch((error) => setStatus('offline', error.message));
      faults.reload();
    }
    refreshCounters();
  },
  onEvents: (events) => {
    if (events.some((event) => event.type === 'lost')) {
      snapshot().catch((error) => setStatus('offline', error.message));
      faults.reload();
      return;
    }
    // Before the snapshot's hold: the faults are read on their own, not from the snapshot.
    faults.apply(events);
    if (held) {
      held.push(...events.filter((event) => event.type !== 'session.data'));
      return;
    }
    const changed = state.apply(events);
    liveView.render(changed);
    if (changed.counters || changed.listeners) refreshCounters();
    performance.mark('sb:live-render', { detail: { events: events.length } });
  },
  onState: setStatus,
});

function setStatus(status, problem) {
  const element = $('#status');
  element.dataset.state = status;
  element.textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline' }[status] ?? status;
  element.title = problem ?? '';
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let view = 'live';
  if (parts[0] === 'sessions' && parts[1]) view = 'session';
  else if (parts[0] === 'history') view = 'history';
  for (const name of ['live', 'session', 'history']) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('current', link.dataset.nav === view);
  }
  if (view !== 'session') transcript.stop();
  if (view !== 'history') history.stop();
  const listener = view === 'live' && parts[0] === 'listeners' && parts[1] ? parts[1] : null;
  if (view === 'live') liveView.focus(listener);
  faults.show(listener);
  if (view === 'session') transcript.show(parts[1]);
  if (view === 'history') history.show(new URLSearchParams(query));
  document.body.dataset.view = view;
}

window.addEventListener('hashchange', route);
route();
feed.start();
