// The live events of GET /v1/events, read with fetch rather than EventSource: EventSource cannot
// send the Authorization header a service with --token-file needs. It parses the stream as the
// HTML standard says, resumes with Last-Event-ID after a drop, and hands events over in batches,
// one batch per animation frame.

import { request } from './api.js';
import { coalesced } from './frame.js';

export class EventFeed {
  /**
   * `onOpen(resumed)`: a stream is open (its subscription made); `resumed` when it picked up
   * after the last event seen, so nothing was missed. `onEvents(batch)`: `[{id, type, data}]`,
   * once per frame. `onState(state)`: 'connecting' | 'live' | 'reconnecting', with a message.
   */
  constructor(path, { onOpen, onEvents, onState }) {
    this.path = path;
    this.onOpen = onOpen;
    this.onEvents = onEvents;
    this.onState = onState;
    this.lastEventID = null;
    this.pending = [];
    this.flush = coalesced(() => {
      const batch = this.pending;
      this.pending = [];
      if (batch.length) this.onEvents(batch);
    });
  }

  start() {
    this.run();
  }

  async run() {
    let delay = 250;
    this.onState('connecting', '');
    for (;;) {
      let problem = 'the stream ended';
      try {
        const headers = {};
        if (this.lastEventID !== null) headers['Last-Event-ID'] = String(this.lastEventID);
        const response = await request(this.path, { headers });
        if (!response.ok) {
          const body = await response.json().catch(() => null);
          throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
        }
        this.onState('live', '');
        this.onOpen(this.lastEventID !== null);
        delay = 250;
        await this.read(response.body);
      } catch (error) {
        problem = error.message;
      }
      this.onState('reconnecting', problem);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { type: '', data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let start = 0;
      for (;;) {
        const end = buffer.indexOf('\n', start);
        if (end < 0) break;
        let line = buffer.slice(start, end);
        start = end + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (event.data.length) this.dispatch(event);
          event = { type: '', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') event.data.push(text);
        else if (field === 'event') event.type = text;
        else if (field === 'id') event.id = text;
      }
      buffer = buffer.slice(start);
    }
  }

  dispatch(event) {
    // `lost` carries no id, so the place to resume from stays where it was.
    if (event.id !== null && /^\d+$/.test(event.id)) this.lastEventID = Number(event.id);
    let data = null;
    try {
      data = JSON.parse(event.data.join('\n'));
    } catch {
      return;
    }
    this.pending.push({ id: this.lastEventID, type: event.type || 'message', data });
    this.flush();
  }
}
