// The realtime transport: one WebSocket to /api/v1/events, reconnect with backoff and jitter,
// resume from the cursor of the last durable event processed, keep-alive pings, outbox delivery.
// The cursor lives in sessionStorage so a reload of the tab resumes instead of starting blind.

import * as store from './store.js';
import { post } from './api.js';

// Keep-alive: a ping every PING_MS (the server answers pong). A link that brings no frame at all
// for STALL_MS (two pings unanswered) is stalled: it is dropped and a new one made, so the
// indicator shows Reconnecting within WATCH_MS + STALL_MS (< 30 s) of the link going quiet.
const PING_MS = 10000;
const STALL_MS = 2 * PING_MS + 2000;
const WATCH_MS = 5000;
const RESEND_MS = 10000; // an unacknowledged send is repeated (same client_id) after this long
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

let ws = null;
let ready = false; // true once `hello` arrived on the current socket
let attempt = 0;
let stopped = true;
let retryTimer = null;
let pingTimer = null;
let lastFrameAt = 0; // when the current socket last brought a frame (or opened)
let lastPingAt = 0;
let offline = false; // the browser said `offline`: no socket until it says `online`
let handlers = {};
let wired = false;
const sentAt = new Map(); // client_id -> when it was last written to the current socket
const restInFlight = new Set();

const cursorKey = () => `parlour.cursor.${store.state.me.id}`;
const savedCursor = () => sessionStorage.getItem(cursorKey());

function saveCursor(cursor) {
  if (cursor) try { sessionStorage.setItem(cursorKey(), cursor); } catch { /* private mode */ }
}

export function forgetCursor() {
  try { sessionStorage.removeItem(cursorKey()); } catch { /* private mode */ }
}

/**
 * handlers: onHello(frame, resumed), onResync(), onEvent(frame), onRevoked().
 * onEvent must have processed (or buffered) the event when it returns: its cursor is saved next.
 */
export function start(h) {
  handlers = h;
  stopped = false;
  attempt = 0;
  if (!wired) {
    wired = true;
    window.addEventListener('online', () => { offline = false; reconnectNow(); });
    window.addEventListener('offline', goOffline);
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      if (ws && Date.now() - lastFrameAt > STALL_MS) dropStalled(); else reconnectNow();
    });
    store.on('outbox', flush);
  }
  connect();
}

export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  clearInterval(pingTimer);
  const sock = ws;
  ws = null;
  ready = false;
  sock?.close(1000);
}

export const isConnected = () => !!ws && ready && ws.readyState === WebSocket.OPEN;

/** Writes a frame if connected; returns false otherwise (callers decide whether to queue). */
export function send(frame) {
  if (!isConnected()) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function connect() {
  clearTimeout(retryTimer);
  if (offline) { store.setConnection('reconnecting'); return; } // the `online` event resumes
  const since = savedCursor();
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${proto}://${location.host}/api/v1/events${since ? `?since=${encodeURIComponent(since)}` : ''}`;
  store.setConnection(attempt ? 'reconnecting' : 'connecting');
  let sock;
  try {
    sock = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  ready = false;
  lastFrameAt = Date.now();
  startWatch();
  sock.onmessage = (e) => {
    if (sock !== ws) return; // a frame from a socket we already gave up on
    lastFrameAt = Date.now();
    let frame;
    try { frame = JSON.parse(e.data); } catch { return; }
    onFrame(frame, !!since);
  };
  sock.onclose = (e) => {
    if (sock !== ws) return;
    ws = null;
    ready = false;
    clearInterval(pingTimer);
    if (e.code === 4401) { // session revoked: reconnecting would only fail again
      stopped = true;
      store.setConnection('offline');
      handlers.onRevoked?.();
    } else if (!stopped) {
      scheduleReconnect();
    }
  };
}

function onFrame(frame, resumed) {
  if (frame.type === 'hello') {
    ready = true;
    attempt = 0;
    sentAt.clear();
    saveCursor(frame.cursor);
    store.setConnection('connected');
    lastPingAt = Date.now();
    handlers.onHello?.(frame, resumed);
    flush();
  } else if (frame.type === 'resync_required') {
    handlers.onResync?.();
  } else {
    handlers.onEvent?.(frame);
    if (frame.cursor) saveCursor(frame.cursor);
  }
}

/** Pings while connected, and gives up on a socket that has been silent for too long. */
function startWatch() {
  clearInterval(pingTimer);
  pingTimer = setInterval(() => {
    if (!ws) return;
    const now = Date.now();
    if (now - lastFrameAt > STALL_MS) { dropStalled(); return; }
    if (ready && now - lastPingAt >= PING_MS - 100) {
      lastPingAt = now;
      send({ type: 'ping' });
      flush();
    }
  }, WATCH_MS);
}

/** Forgets the current socket without waiting for its close (a dead link may never report one). */
function dropSocket() {
  const sock = ws;
  ws = null;
  ready = false;
  clearInterval(pingTimer);
  try { sock?.close(4000, 'stalled'); } catch { /* already closing */ }
}

function dropStalled() {
  if (stopped || !ws) return;
  dropSocket();
  scheduleReconnect();
}

function goOffline() {
  offline = true;
  if (stopped) return;
  clearTimeout(retryTimer);
  dropSocket();
  attempt = Math.max(attempt, 1);
  store.setConnection('reconnecting');
  // navigator.onLine can be wrong; try again now and then even without an `online` event.
  retryTimer = setTimeout(() => { offline = false; connect(); }, BACKOFF_MS[BACKOFF_MS.length - 1]);
}

function scheduleReconnect() {
  store.setConnection('reconnecting');
  const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
  attempt += 1;
  clearTimeout(retryTimer);
  // Jitter spreads out a crowd of clients reconnecting after a server restart.
  retryTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
}

function reconnectNow() {
  if (stopped || ws) return;
  attempt = Math.max(attempt, 1);
  connect();
}

/** Sends every pending outbox item that is not already on its way. */
export function flush() {
  const now = Date.now();
  for (const item of store.state.outbox) {
    if (item.status !== 'pending') continue;
    if (item.attachment_ids?.length) {
      // The WebSocket `send` frame has no attachments, so these go over REST.
      deliverOverRest(item);
    } else if (now - (sentAt.get(item.client_id) || 0) > RESEND_MS) {
      const frame = { type: 'send', room_id: item.room_id, content: item.content, client_id: item.client_id };
      if (item.reply_to) frame.reply_to = item.reply_to;
      if (send(frame)) sentAt.set(item.client_id, now);
    }
  }
}

async function deliverOverRest(item) {
  if (restInFlight.has(item.client_id)) return;
  restInFlight.add(item.client_id);
  try {
    const message = await post(`/rooms/${encodeURIComponent(item.room_id)}/messages`, {
      content: item.content, client_id: item.client_id, attachment_ids: item.attachment_ids,
      ...(item.reply_to ? { reply_to: item.reply_to } : {}),
    });
    store.applyEvent({ type: 'ack', client_id: item.client_id, message });
  } catch (err) {
    // No answer (network) or a transient refusal: stay pending for the next flush.
    const transient = err.status === 0 || err.status === 429 || err.status >= 500;
    if (!transient) store.setOutboxStatus(item.client_id, 'failed', err.message);
  } finally {
    restInFlight.delete(item.client_id);
  }
}
