// What the page knows of the running service: its listeners and its sessions, open and
// recently closed, kept from a snapshot of the REST API and the live events after it.

/** Closed sessions kept for the list, as the service keeps the last 1,000 in memory. */
export const closedKept = 1000;

export class LiveState {
  constructor() {
    this.listeners = new Map();
    this.sessions = new Map();
    /** Session ids newest first: ULIDs sort by opening time. */
    this.order = [];
    this.closedCount = 0;
    /** Bumped on every change to the sessions, so views redo their filtering only then. */
    this.version = 0;
  }

  snapshot(listeners, sessions) {
    this.listeners = new Map(listeners.map((listener) => [listener.name, listener]));
    this.sessions = new Map(sessions.map((session) => [session.id, session]));
    this.order = sessions.map((session) => session.id).sort().reverse();
    this.closedCount = sessions.filter((session) => session.state !== 'open').length;
    this.trim();
    this.version += 1;
  }

  /** Applies a batch of events; answers what changed, for the views to redraw only that. */
  apply(events) {
    const changed = { listeners: false, sessions: false, counters: false };
    for (const { type, data } of events) {
      switch (type) {
        case 'listener.created':
        case 'listener.failed':
          this.listeners.set(data.name, data);
          changed.listeners = true;
          break;
        case 'listener.deleted':
          this.listeners.delete(data.name);
          changed.listeners = true;
          break;
        case 'session.opened':
          // A snapshot newer than the event has the session already, with its bytes.
          if (!this.sessions.has(data.id)) this.insert(data);
          changed.sessions = true;
          changed.counters = true;
          break;
        case 'session.closed':
          this.close(data);
          changed.sessions = true;
          changed.counters = true;
          break;
        case 'session.data': {
          const session = this.sessions.get(data.session_id);
          if (session && session.state === 'open') {
            if (data.direction === 'in') session.bytes_in += data.bytes;
            else session.bytes_out += data.bytes;
            changed.sessions = true;
          }
          changed.counters = true;
          break;
        }
        case 'connection.rejected':
          changed.counters = true;
          break;
        default:
          break;
      }
    }
    if (changed.sessions) {
      this.trim();
      this.version += 1;
    }
    return changed;
  }

  insert(session) {
    this.sessions.set(session.id, session);
    if (session.state !== 'open') this.closedCount += 1;
    // New sessions are nearly always the newest: a search from the front finds their place.
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.order[middle] > session.id) low = middle + 1;
      else high = middle;
    }
    this.order.splice(low, 0, session.id);
  }

  close(session) {
    const known = this.sessions.get(session.id);
    if (!known) {
      this.insert(session);
      return;
    }
    if (known.state === 'open' && session.state !== 'open') this.closedCount += 1;
    this.sessions.set(session.id, session);
  }

  /** Drops the oldest closed sessions past `closedKept`; open ones always stay. */
  trim() {
    if (this.closedCount <= closedKept * 1.2) return;
    let keep = closedKept;
    const order = [];
    for (const id of this.order) {
      const session = this.sessions.get(id);
      if (session.state === 'open') order.push(id);
      else if (keep > 0) {
        keep -= 1;
        order.push(id);
      } else this.sessions.delete(id);
    }
    this.order = order;
    this.closedCount = closedKept;
  }

  /** The sessions a list shows, newest first. */
  select({ listener = null, openOnly = false } = {}) {
    const selected = [];
    for (const id of this.order) {
      const session = this.sessions.get(id);
      if (openOnly && session.state !== 'open') continue;
      if (listener !== null && session.listener !== listener) continue;
      selected.push(session);
    }
    return selected;
  }

  get openCount() {
    return this.sessions.size - this.closedCount;
  }
}
