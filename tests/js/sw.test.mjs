// Unit tests of the service worker (src/parlour/web/sw.js), in plain Node: the script runs in a
// vm context whose `self` records listeners, notifications shown and windows focused or opened
// (headless Chromium has no push service and cannot click a notification).
//   node --test tests/js/*.test.mjs

import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const SOURCE = readFileSync(new URL('../../src/parlour/web/sw.js', import.meta.url), 'utf8');
const ORIGIN = 'https://chat.example';

let worker;

/** A window client of the origin at `path`, recording what happens to it. */
function windowClient(path, extra = {}) {
  const c = {
    url: `${ORIGIN}${path}`, focused: false, visibilityState: 'hidden', messages: [], focusedTimes: 0,
    postMessage(data) { c.messages.push(data); },
    async focus() { c.focusedTimes += 1; return c; },
    ...extra,
  };
  return c;
}

/** Loads sw.js afresh into a context whose `self` is a recording fake of the worker's global. */
function load({ windows = [] } = {}) {
  const listeners = new Map();
  const self = {
    location: new URL(`${ORIGIN}/sw.js`),
    shown: [],
    opened: [],
    skipped: 0,
    claimed: 0,
    windows,
    addEventListener(type, fn) { listeners.set(type, [...(listeners.get(type) || []), fn]); },
    skipWaiting() { self.skipped += 1; return Promise.resolve(); },
    registration: {
      async showNotification(title, options) { self.shown.push({ title, options }); },
    },
    clients: {
      async matchAll(query) {
        assert.deepEqual({ ...query }, { type: 'window', includeUncontrolled: true });
        return self.windows;
      },
      async claim() { self.claimed += 1; },
      async openWindow(url) { self.opened.push(url); return null; },
    },
  };
  vm.runInNewContext(SOURCE, { self, URL, console });
  self.listeners = listeners;
  return self;
}

/** Dispatches an extendable event; resolves once what it passed to waitUntil settled. */
async function dispatch(type, fields = {}) {
  const waits = [];
  const event = { type, ...fields, waitUntil(p) { waits.push(p); } };
  for (const fn of worker.listeners.get(type) || []) fn(event);
  await Promise.all(waits);
  return event;
}

const pushData = (value) => ({
  json() { return typeof value === 'string' ? JSON.parse(value) : value; },
  text() { return typeof value === 'string' ? value : JSON.stringify(value); },
});

beforeEach(() => { worker = load(); });

test('no fetch handler: nothing is answered from a cache', () => {
  assert.equal(worker.listeners.has('fetch'), false);
  assert.doesNotMatch(SOURCE, /caches\./);
  assert.deepEqual([...worker.listeners.keys()].sort(), ['activate', 'install', 'notificationclick', 'push']);
});

test('a new version takes over at once', async () => {
  await dispatch('install');
  await dispatch('activate');
  assert.equal(worker.skipped, 1);
  assert.equal(worker.claimed, 1);
});

test('a push shows its title and body, one notification per room', async () => {
  const payload = { room_id: 'r1', message_id: 'm9', title: 'Ada Lovelace in Launch', body: 'Ship it' };
  await dispatch('push', { data: pushData(payload) });
  assert.equal(worker.shown.length, 1);
  const { title, options } = worker.shown[0];
  assert.equal(title, 'Ada Lovelace in Launch');
  assert.equal(options.body, 'Ship it');
  assert.equal(options.tag, 'r1');
  assert.deepEqual({ ...options.data }, { room_id: 'r1', message_id: 'm9' });
  assert.match(options.icon, /^\/static\/icons\/.+\.png$/);
});

test('a push whose body is empty (previews off) still names who wrote', async () => {
  await dispatch('push', { data: pushData({ room_id: 'r1', message_id: 'm1', title: 'Grace Hopper', body: '' }) });
  assert.equal(worker.shown[0].title, 'Grace Hopper');
  assert.equal(worker.shown[0].options.body, '');
});

test('a push that is not JSON, or has no data, shows a generic "New message"', async () => {
  await dispatch('push', { data: pushData('not json {') });
  await dispatch('push', { data: null });
  assert.deepEqual(worker.shown.map((n) => n.title), ['New message', 'New message']);
  assert.equal(worker.shown[0].options.data.room_id, null);
});

function notification(data) {
  const n = { data, closed: 0, close() { n.closed += 1; } };
  return n;
}

test('a click focuses the open Parlour window and asks it to open the room', async () => {
  const other = windowClient('/api/v1/email/unsubscribe?u=x&t=y', { visibilityState: 'visible' });
  const app = windowClient('/#/rooms');
  worker.windows.push(other, app);
  const n = notification({ room_id: 'r 1', message_id: 'm1' });
  await dispatch('notificationclick', { notification: n });
  assert.equal(n.closed, 1);
  assert.equal(app.focusedTimes, 1);
  assert.deepEqual(app.messages.map((m) => ({ ...m })), [{ type: 'parlour.open-room', room_id: 'r 1' }]);
  assert.equal(other.focusedTimes, 0);
  assert.deepEqual(worker.opened, []);
});

test('of several windows, the focused one is used', async () => {
  const a = windowClient('/#/rooms', { visibilityState: 'visible' });
  const b = windowClient('/#/saved', { focused: true, visibilityState: 'visible' });
  worker.windows.push(a, b);
  await dispatch('notificationclick', { notification: notification({ room_id: 'r2', message_id: null }) });
  assert.equal(b.focusedTimes, 1);
  assert.equal(a.focusedTimes, 0);
});

test('a click with no Parlour window open opens one at the room', async () => {
  await dispatch('notificationclick', { notification: notification({ room_id: 'r 1', message_id: 'm1' }) });
  assert.deepEqual(worker.opened, ['/#/room/r%201']);
  await dispatch('notificationclick', { notification: notification({ room_id: null, message_id: null }) });
  assert.deepEqual(worker.opened, ['/#/room/r%201', '/']);
});
