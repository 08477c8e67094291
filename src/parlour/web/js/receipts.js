// Read receipts of the rooms on screen: how far each member has read. Loaded per watched room from
// GET /rooms/{id}/receipts ({user_id: last read message id | null}), moved live by the socket's
// `receipt.updated` (not durable: on every hello app.js reloads the watched rooms), which store.js
// hands to applyReceipt(). Events that arrive while a room's receipts load are replayed on top.
// Message ids are random, so "has read as far as my message" is decided by the room's message order
// (the loaded page); a pointer outside it (a thread reply, an older message) is placed by asking
// for the first message after it (GET /rooms/{id}/messages?after=ID&limit=1), once.
// Shown under my latest message: "✓ Sent" / "✓✓ Seen" in a direct room, "Seen by N" (names on
// hover and keyboard focus) in a group or channel of at most RECEIPT_MEMBERS members.

import { h } from './dom.js';
import { get } from './api.js';

export const RECEIPT_MEMBERS = 100; // the server sends receipt.updated only in rooms this small
const MAX_LOOKUPS = 20; // pointers placed by a request, per room
const NAMES_SHOWN = 20;

const rooms = new Map(); // roomId -> {pointers, pending: [event] | null while loading, watchers, lookups}
const listeners = new Set();
const enc = encodeURIComponent;

/** Pure: one room's pointers ({user_id: message_id}) after a receipt.updated event. */
export function reduceReceipt(pointers, ev) {
  if (!ev?.user_id || !ev.message_id || pointers[ev.user_id] === ev.message_id) return pointers;
  return { ...pointers, [ev.user_id]: ev.message_id };
}

/** `fn(roomId)` runs when a watched room's receipts changed; returns the unsubscribe. */
export function onReceipts(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(roomId) {
  for (const fn of [...listeners]) {
    try { fn(roomId); } catch (e) { console.error(e); }
  }
}

/** store.applyEvent's entry for `receipt.updated`. Rooms nobody shows are ignored. */
export function applyReceipt(ev) {
  const entry = rooms.get(ev.room_id);
  if (!entry) return;
  entry.pending?.push(ev);
  const next = reduceReceipt(entry.pointers, ev);
  if (next === entry.pointers) return;
  entry.pointers = next;
  changed(ev.room_id);
}

async function load(roomId) {
  const entry = rooms.get(roomId);
  if (!entry) return;
  entry.pending = [];
  const mine = entry.pending;
  let found = null;
  try { found = await get(`/rooms/${enc(roomId)}/receipts`); } catch { /* shown again on the next hello */ }
  if (rooms.get(roomId) !== entry || entry.pending !== mine) return; // unwatched or reloaded meanwhile
  entry.pending = null;
  if (!found) return;
  entry.pointers = mine.reduce(reduceReceipt, found);
  entry.loaded = true;
  changed(roomId);
}

/** A room view shows `roomId`: keep its receipts. Returns the function that stops. */
export function watch(roomId) {
  let entry = rooms.get(roomId);
  if (!entry) {
    entry = { pointers: {}, pending: null, watchers: 0, loaded: false, lookups: new Map() };
    rooms.set(roomId, entry);
    load(roomId);
  }
  entry.watchers += 1;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    entry.watchers -= 1;
    if (!entry.watchers && rooms.get(roomId) === entry) rooms.delete(roomId);
  };
}

/** After a (re)connect: receipt.updated is not replayed, so reload every watched room. */
export function reloadWatched() {
  for (const roomId of rooms.keys()) load(roomId);
}

export function reset() { rooms.clear(); }

export const pointersOf = (roomId) => rooms.get(roomId)?.pointers || {};

/**
 * Has the reader whose pointer is `pointer` read as far as list[index]? By the room's order (the
 * loaded list, oldest first); a pointer outside the list is placed once by a request (false until).
 */
function readPast(roomId, entry, list, index, pointer) {
  if (!pointer) return false;
  const at = list.findIndex((m) => m.id === pointer);
  if (at >= 0) return at >= index;
  let place = entry.lookups.get(pointer);
  if (!place) {
    if (entry.lookups.size >= MAX_LOOKUPS) return false;
    place = { done: false };
    entry.lookups.set(pointer, place);
    const newest = list[list.length - 1]?.id || null;
    get(`/rooms/${enc(roomId)}/messages`, { after: pointer, limit: 1 })
      .then((msgs) => { Object.assign(place, { done: true, after: msgs[0]?.id || null, newest }); changed(roomId); })
      .catch(() => { entry.lookups.delete(pointer); });
    return false;
  }
  if (!place.done) return false;
  if (place.after) {
    // The pointer sits just before `after`: read past list[index] when that comes before `after`.
    const next = list.findIndex((m) => m.id === place.after);
    return next > index;
  }
  // Nothing after the pointer then: it was at (or past) the newest message of that moment.
  const newest = list.findIndex((m) => m.id === place.newest);
  return newest >= index;
}

/**
 * What to show under my latest message: {messageId, key, el} or null. room: the store's room;
 * list: its loaded messages, oldest first (settled ones); meId: my id.
 */
export function receiptFor(room, list, meId) {
  const entry = rooms.get(room?.id);
  if (!entry?.loaded || !list?.length) return null;
  if (room.type !== 'direct' && room.members.length > RECEIPT_MEMBERS) return null;
  let index = list.length - 1;
  while (index >= 0 && (list[index].author?.id !== meId || list[index].deleted)) index -= 1;
  if (index < 0) return null;
  const mid = list[index].id;
  const others = room.members.filter((u) => u.id !== meId);
  const seen = others.filter((u) => readPast(room.id, entry, list, index, entry.pointers[u.id]));
  if (room.type === 'direct') {
    const state = seen.length ? 'seen' : 'sent';
    return { messageId: mid, key: `${mid}|${state}`, el: directReceipt(state, others[0]?.full_name) };
  }
  if (!seen.length) return { messageId: mid, key: `${mid}|sent`, el: directReceipt('sent') };
  const names = seen.map((u) => u.full_name || 'Someone');
  return { messageId: mid, key: `${mid}|${names.join('\n')}`, el: seenBy(names) };
}

function directReceipt(state, name) {
  const seen = state === 'seen';
  return h('p', { class: `receipt receipt-${state}`, title: seen && name ? `Seen by ${name}` : 'Sent, not seen yet' },
    h('span', { class: 'ticks', 'aria-hidden': 'true' }, seen ? '✓✓' : '✓'), seen ? ' Seen' : ' Sent');
}

function listNames(names) {
  const shown = names.slice(0, NAMES_SHOWN);
  const more = names.length - shown.length;
  return more ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/** "Seen by N": a button whose name carries the names; they also show in a tooltip (hover, focus). */
function seenBy(names) {
  const label = `Seen by ${names.length}`;
  const wrap = h('p', { class: 'receipt receipt-seen receipt-group' },
    h('button', {
      type: 'button', class: 'link receipt-btn', 'aria-label': `${label}: ${listNames(names)}`, 'data-fk': 'receipt',
      onclick: () => wrap.classList.toggle('tip-open'),
      onkeydown: (e) => {
        if (e.key !== 'Escape' || wrap.classList.contains('tip-off')) return;
        e.preventDefault();
        e.stopPropagation(); // Esc hides the names, the Chatbox stays open
        wrap.classList.add('tip-off');
      },
      onblur: () => wrap.classList.remove('tip-off', 'tip-open'),
    }, h('span', { class: 'ticks', 'aria-hidden': 'true' }, '✓✓'), ` ${label}`),
    h('span', { class: 'tip receipt-tip', 'aria-hidden': 'true' }, listNames(names)));
  return wrap;
}
