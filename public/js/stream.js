// A WebSocket that comes back. It remembers the `cursor` of the last persisted message it saw and reconnects
// with `?from=<cursor>`, so the server resumes right after it: no gap, no message twice (API.md "The stream").

import { wsUrl } from './api.js';

const AUTH_CODES = new Set([1008, 4001, 4003, 4401, 4403]);

export class LiveStream {
  /**
   * @param {string} path e.g. `/v1/jobs/ID/stream`
   * @param {{
   *   onMessage: (msg: any) => void,
   *   onState?: (state: 'connecting'|'live'|'reconnecting'|'closed', info?: any) => void,
   *   onAuthError?: (event: CloseEvent) => void,
   *   resume?: boolean,
   *   isFinal?: (msg: any) => boolean,
   *   reconnectAfterClose?: (event: CloseEvent) => boolean,
   *   forgetCursorAfter?: number,
   * }} opts
   */
  constructor(path, opts) {
    this.path = path;
    this.opts = { resume: true, isFinal: () => false, reconnectAfterClose: () => true, ...opts };
    /** The last cursor received (a Redis Stream entry id); sent back as `?from=` on reconnect. */
    this.cursor = undefined;
    this.ws = undefined;
    this.stopped = false;
    this.finished = false;
    this.attempt = 0;
    this.timer = undefined;
    /** Every URL this stream connected to, in order (handy when debugging a resume). */
    this.urls = [];
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    // A cursor the server keeps refusing (e.g. a Redis that was reset) is dropped when the caller allows it.
    if (this.opts.forgetCursorAfter && this.attempt >= this.opts.forgetCursorAfter) this.cursor = undefined;
    const params = this.opts.resume && this.cursor ? { from: this.cursor } : {};
    const url = wsUrl(this.path, params);
    this.urls.push(url);
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setState('live');
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '');
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      if (typeof msg.cursor === 'string' && msg.cursor) this.cursor = msg.cursor;
      if (this.opts.isFinal(msg)) this.finished = true;
      this.opts.onMessage(msg);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return this.setState('closed');
      if (AUTH_CODES.has(ev.code)) {
        this.stopped = true;
        this.setState('closed', { auth: true });
        this.opts.onAuthError?.(ev);
        return;
      }
      if (this.finished || (ev.code === 1000 && !this.opts.reconnectAfterClose(ev))) {
        this.stopped = true;
        return this.setState('closed');
      }
      this.scheduleReconnect();
    });
    // 'error' is always followed by 'close'; nothing to do here.
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempt += 1;
    const delay = Math.min(5000, 250 * 2 ** Math.min(this.attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
    this.setState('reconnecting', { attempt: this.attempt, delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  setState(state, info) {
    this.state = state;
    this.opts.onState?.(state, info);
  }

  /** Stop for good (the view went away). */
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'client closed');
    this.setState('closed');
  }

  /** Drop the connection as a flaky network would (the stream reconnects with `?from=`). For tests and demos. */
  drop() {
    const ws = this.ws;
    if (!ws) return false;
    ws.close(4000, 'dropped');
    return true;
  }
}
