// The client's state: rooms, unread counts, messages per room, users, presence, typing, outbox.
// Fed by REST (initial load, resync, paging) and by the event stream through applyEvent().
// Views never mutate state directly; they call the functions here and re-render on emitted topics:
//   'rooms' 'unread' 'messages'(roomId) 'presence'(userId) 'typing'(roomId) 'outbox' 'reset'
//   'me' 'prefs' 'conn' 'room:removed'(roomId) 'message:new'(message, for pop-ups)
//   'pins'(roomId) when a message of the room was pinned, unpinned or deleted; 'saved' (my saves)
//   'channels' when what we know of the organization's channels changed (Browse channels)
//   'thread'(rootId) when a loaded thread's replies (or pending replies) changed
// Replies (messages with `reply_to`) never enter a room's list or last_message, and never change
// unread counts by themselves: followers of the thread get `unread.updated` from the server.

import { get, post } from './api.js';
import { applyReceipt } from './receipts.js';

const PAGE = 50;
const DEFAULT_PREFS = {
  message_preview: true, notification_sound: true, desktop_notifications: false, enable_chat: true,
  email_notifications: 'direct_and_mentions', // or 'never'
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, data) {
  for (const fn of [...(listeners.get(topic) || [])]) {
    try { fn(data); } catch (e) { console.error(e); }
  }
}

export const state = {
  me: null,
  prefs: { ...DEFAULT_PREFS },
  rooms: new Map(),
  users: new Map(),
  unreadTotal: 0,
  buckets: new Map(), // roomId -> {byId: Map, list: [], hasMore, loaded}; exists once loading began
  typing: new Map(), // roomId -> Map(userId -> until, in local ms)
  outbox: [], // [{client_id, room_id, content, attachment_ids, attachments, created_at, status, error}]
  saved: new Set(), // ids of the messages I saved (from GET /saved and saved.updated)
  channels: new Map(), // channel id -> {id, name, topic, member_count, joined} (GET /channels)
  threads: new Map(), // root id -> {roomId, byId, list, hasMore, loaded, cursor, patches}
  following: new Set(), // root ids of threads I follow, as far as this client has seen
  connection: 'connecting',
};

// "Am I reading this room right now?" depends on UI state (chatbox open, focus), so app.js supplies it.
/** @type {(roomId: string) => boolean} */
let readingPredicate = () => false;
/** @param {(roomId: string) => boolean} fn */
export const setReadingPredicate = (fn) => { readingPredicate = fn; };
export const isReading = (roomId) => readingPredicate(roomId);

// Rooms whose open log is scrolled up: what arrives there is below the screen, so not read yet.
const scrolledUp = new Set();
export function setScrolledUp(roomId, up) { if (up) scrolledUp.add(roomId); else scrolledUp.delete(roomId); }
/** Reading the room and seeing its newest messages (not scrolled up). */
export const isReadingLatest = (roomId) => !scrolledUp.has(roomId) && isReading(roomId);

const countsChanged = () => { emit('rooms'); emit('unread', state.unreadTotal); };
const ts = (iso) => Date.parse(iso || '') || 0;
const enc = encodeURIComponent;

export function reset() {
  state.me = null;
  state.rooms.clear(); state.users.clear(); state.buckets.clear(); state.typing.clear();
  state.outbox = []; state.unreadTotal = 0; state.saved.clear(); state.channels.clear();
  state.threads.clear(); state.following.clear(); seenReplies.clear();
}

export function setConnection(value) { state.connection = value; emit('conn', value); }

// ---- me & preferences -------------------------------------------------------------------------

export function setMe(user) {
  state.me = rememberUser(user);
  let cached = {};
  try { cached = JSON.parse(localStorage.getItem(`parlour.prefs.${user.id}`) || '{}'); } catch { /* ignore */ }
  // The contract's User has no preferences field; use it if the server adds one, else the cache.
  state.prefs = { ...DEFAULT_PREFS, ...cached, ...(user.preferences || {}), ...Object.fromEntries(unsavedPrefs) };
  emit('me', state.me);
  emit('prefs', state.prefs);
}

// Preference changes sent but not answered yet: a profile read that was already in flight (the
// activity check's GET /users/me, say) must not undo them on screen when it lands.
const unsavedPrefs = new Map();

/** Show `changes` at once and keep them over any profile read until savedPrefs(their keys). */
export function savingPrefs(changes) {
  for (const [key, value] of Object.entries(changes)) unsavedPrefs.set(key, value);
  setPrefs(changes);
}

/** The server answered for these keys (stored or refused). */
export function savedPrefs(keys) {
  for (const key of keys) unsavedPrefs.delete(key);
}

export function setPrefs(prefs) {
  state.prefs = { ...state.prefs, ...prefs };
  try { localStorage.setItem(`parlour.prefs.${state.me.id}`, JSON.stringify(state.prefs)); } catch { /* full */ }
  emit('prefs', state.prefs);
}

// ---- users & presence ---------------------------------------------------------------------------

/** One canonical object per user id, so a presence change shows everywhere that user appears. */
export function rememberUser(u) {
  const known = state.users.get(u.id);
  if (known) return Object.assign(known, u);
  state.users.set(u.id, u);
  return u;
}

export const user = (id) => state.users.get(id);

export function setPresence(userId, status, lastSeen) {
  const u = state.users.get(userId);
  if (!u) return;
  u.status = status;
  if (lastSeen !== undefined) u.last_seen_at = lastSeen;
  emit('presence', userId);
  emit('rooms');
}

// ---- rooms & unread ----------------------------------------------------------------------------

export const roomActivity = (r) => ts(r.last_message?.created_at || r.created_at);
export const sortedRooms = () => [...state.rooms.values()].sort((a, b) => roomActivity(b) - roomActivity(a));
export const otherMember = (room) => room.members.find((u) => u.id !== state.me?.id) || room.members[0];
export const isAdmin = (room) => (room.admins || []).includes(state.me?.id);

export function roomName(room) {
  if (room.type === 'direct') return room.name || otherMember(room)?.full_name || 'Direct chat';
  if (room.type === 'channel') return channelName(room);
  return room.name || 'Untitled group';
}

/** "# name": how a channel shows in lists and headers (a room or a GET /channels entry). */
export const channelName = (c) => `# ${c.name || 'untitled'}`;

// ---- notification levels ------------------------------------------------------------------------
// My level per room: "all" (every message pops up), "mentions" (only those mentioning me), "none"
// (nothing, and the room's unread is left out of the toolbar total; the room still counts its own).

export const NOTIFY_LEVELS = ['all', 'mentions', 'none'];
export const notifyLevel = (room) => room?.notify || (room?.type === 'channel' ? 'mentions' : 'all');
/** Does the room's unread count go into the toolbar total? */
const counted = (room) => notifyLevel(room) !== 'none';

/**
 * Should a new message from someone else pop up (and beep)? Follows the room's level. A reply
 * only for a thread I follow (my root, a thread I replied or was mentioned in) at "all", or when
 * it mentions me (unless the room is at "none").
 */
export function wantsNotice(m) {
  const level = notifyLevel(state.rooms.get(m.room_id));
  if (level === 'none') return false;
  if (m.reply_to) return mentionsMe(m) || (level === 'all' && follows(m.room_id, m.reply_to));
  return level === 'all' || mentionsMe(m);
}

/** Do I follow the thread under rootId (best effort: what this client has seen)? */
export function follows(roomId, rootId) {
  if (state.following.has(rootId)) return true;
  const root = findMessage(roomId, rootId);
  return !!root && !!state.me && root.author?.id === state.me.id;
}

function noteFollowing(m) {
  if (!m.reply_to || !state.me) return;
  if (m.author?.id === state.me.id || mentionsMe(m)) state.following.add(m.reply_to);
}

export const mentionsMe = (m) => !!state.me && (m.mentions || []).includes(state.me.id);

/** My level changed (my PATCH, or notify.updated from another device of mine). */
export function setNotify(roomId, level) {
  const room = state.rooms.get(roomId);
  if (!room || !NOTIFY_LEVELS.includes(level) || notifyLevel(room) === level) return;
  const before = counted(room);
  room.notify = level;
  // The server follows with unread.updated and the absolute total; until then, adjust ours.
  if (before !== counted(room)) {
    state.unreadTotal = Math.max(0, state.unreadTotal + (before ? -1 : 1) * (room.unread_count || 0));
  }
  countsChanged();
}

// ---- channels (Browse) --------------------------------------------------------------------------

export function rememberChannels(list) {
  for (const c of list) state.channels.set(c.id, { ...state.channels.get(c.id), ...c });
  emit('channels');
}

export const channel = (id) => state.channels.get(id);

export function directRoomWith(userId) {
  for (const r of state.rooms.values()) {
    if (r.type === 'direct' && r.members.some((u) => u.id === userId)) return r;
  }
  return null;
}

function storeRoom(room) {
  const prev = state.rooms.get(room.id);
  room.members = (room.members || []).map(rememberUser);
  if (prev) {
    // Counts move only through unread.updated / local reads; a room payload may be older than those.
    // The level moves only through setNotify. A group's or channel's room events are a shared view
    // without my own fields at all, so these are always carried over.
    room.unread_count = prev.unread_count;
    room.mention_count = prev.mention_count;
    room.notify = prev.notify;
    if (room.last_read_message_id === undefined) room.last_read_message_id = prev.last_read_message_id;
    if (prev.last_message && ts(prev.last_message.created_at) > ts(room.last_message?.created_at)) {
      room.last_message = prev.last_message;
    }
  } else {
    // A new room from an event (shared view): nothing unread yet, at its type's default level.
    room.unread_count = room.unread_count || 0;
    room.mention_count = room.mention_count || 0;
    room.notify = notifyLevel(room);
    if (counted(room)) state.unreadTotal += room.unread_count;
  }
  state.rooms.set(room.id, room);
  if (room.type === 'channel' && state.channels.has(room.id)) {
    const c = state.channels.get(room.id);
    Object.assign(c, { name: room.name, topic: room.topic, member_count: room.members.length, joined: true });
    emit('channels');
  }
  return room;
}

export function upsertRoom(room) {
  storeRoom(room);
  countsChanged();
  return state.rooms.get(room.id);
}

export function setRooms(list) {
  state.rooms.clear();
  state.unreadTotal = 0;
  list.forEach(storeRoom);
  emit('rooms');
}

export function removeRoom(roomId) {
  const r = state.rooms.get(roomId);
  if (!r) return;
  if (counted(r)) state.unreadTotal = Math.max(0, state.unreadTotal - (r.unread_count || 0));
  state.rooms.delete(roomId);
  state.buckets.delete(roomId);
  const c = state.channels.get(roomId);
  if (c?.joined) {
    Object.assign(c, { joined: false, member_count: Math.max(0, (c.member_count || 1) - 1) });
    emit('channels');
  }
  countsChanged();
  emit('room:removed', roomId);
}

export function setUnread({ total, rooms, mentions }) {
  state.unreadTotal = total || 0;
  for (const r of state.rooms.values()) {
    r.unread_count = rooms?.[r.id] || 0;
    r.mention_count = mentions?.[r.id] || 0;
  }
  countsChanged();
}

function setRoomUnread(roomId, count, total, mentions) {
  const r = state.rooms.get(roomId);
  if (r) {
    r.unread_count = count;
    if (typeof mentions === 'number') r.mention_count = mentions;
  }
  if (typeof total === 'number') state.unreadTotal = total;
  countsChanged();
}

export async function fetchRoom(roomId) {
  return upsertRoom(await get(`/rooms/${enc(roomId)}`));
}

// ---- messages -----------------------------------------------------------------------------------

const byTime = (a, b) => ts(a.created_at) - ts(b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function put(b, msgs) {
  for (const m of msgs) b.byId.set(m.id, m);
  b.list = [...b.byId.values()].sort(byTime);
}

export const bucketOf = (roomId) => state.buckets.get(roomId);

/** Loads the newest page. Events arriving meanwhile already merge into the bucket, so none is lost. */
export async function loadLatest(roomId) {
  // `patches`: reactions and pins that arrive while loading, replayed on the page (they only
  // name the message, and the page may predate them).
  const b = { byId: new Map(), list: [], hasMore: true, loaded: false, patches: [] };
  state.buckets.set(roomId, b);
  const msgs = await get(`/rooms/${enc(roomId)}/messages`, { limit: PAGE });
  if (state.buckets.get(roomId) !== b) return; // reset while loading
  put(b, msgs);
  for (const [id, change] of b.patches) {
    const m = b.byId.get(id);
    if (m) put(b, [{ ...m, ...change(m) }]);
  }
  b.patches = null;
  b.hasMore = msgs.length >= PAGE;
  b.loaded = true;
  emit('messages', roomId);
}

export async function loadOlder(roomId) {
  const b = state.buckets.get(roomId);
  if (!b?.loaded || !b.hasMore || b.loadingOlder || !b.list.length) return;
  b.loadingOlder = true;
  try {
    const msgs = await get(`/rooms/${enc(roomId)}/messages`, { before: b.list[0].id, limit: PAGE });
    put(b, msgs);
    b.hasMore = msgs.length >= PAGE;
  } finally {
    b.loadingOlder = false;
  }
  emit('messages', roomId);
}

/** Forgets every cached message (after a resync); open views reload what they show. */
export function resetBuckets() {
  state.buckets.clear();
  state.threads.clear();
  emit('reset');
}

function upsertMessage(m) {
  if (m.reply_to) { upsertReply(m); return; }
  const b = state.buckets.get(m.room_id);
  if (b) put(b, [m]);
  const room = state.rooms.get(m.room_id);
  if (room && (!room.last_message || room.last_message.id === m.id
      || ts(m.created_at) >= ts(room.last_message.created_at))) {
    room.last_message = m;
  }
  if (m.client_id && m.author?.id === state.me?.id) settleOutbox(m.client_id, false);
  emit('messages', m.room_id);
  emit('rooms');
}

/** Was this message already reflected in what we loaded (replays after a reload repeat some)? */
function alreadyKnown(m) {
  if (state.buckets.get(m.room_id)?.byId.has(m.id)) return true;
  const last = state.rooms.get(m.room_id)?.last_message;
  return !!last && (last.id === m.id || ts(m.created_at) < ts(last.created_at));
}

// ---- threads ------------------------------------------------------------------------------------

const seenReplies = new Set(); // ids of replies already handled (replays after a resume repeat some)

export const threadOf = (rootId) => state.threads.get(rootId);

function upsertReply(m) {
  seenReplies.add(m.id);
  noteFollowing(m);
  const t = state.threads.get(m.reply_to);
  if (t) put(t, [m]);
  if (m.client_id && m.author?.id === state.me?.id) settleOutbox(m.client_id, false);
  emit('thread', m.reply_to);
}

function replyCreated(m) {
  const known = seenReplies.has(m.id);
  if (m.author) rememberUser(m.author);
  upsertReply(m);
  if (known || m.author?.id === state.me?.id) return;
  // No count changes here: the server sends followers unread.updated with the new counts.
  // A thread open on screen (its replies loaded) and being read needs no pop-up.
  if (state.threads.get(m.reply_to)?.loaded && isReading(m.room_id)) return;
  if (state.rooms.has(m.room_id)) emit('message:new', m);
}

/** Loads a thread's first page of replies (oldest first); events arriving meanwhile merge in. */
export async function loadThread(roomId, rootId) {
  const t = { roomId, byId: new Map(), list: [], hasMore: false, loaded: false, cursor: null, patches: [] };
  state.threads.set(rootId, t);
  const msgs = await get(`/messages/${enc(rootId)}/thread`, { limit: PAGE });
  if (state.threads.get(rootId) !== t) return;
  msgs.forEach(noteFollowing);
  msgs.forEach((m) => seenReplies.add(m.id));
  put(t, msgs);
  for (const [id, change] of t.patches) {
    const m = t.byId.get(id);
    if (m) put(t, [{ ...m, ...change(m) }]);
  }
  t.patches = null;
  t.cursor = msgs.length ? msgs[msgs.length - 1].id : null;
  t.hasMore = msgs.length >= PAGE;
  t.loaded = true;
  emit('thread', rootId);
}

/** The next page of a thread's replies (after the last one paged in). */
export async function loadMoreReplies(rootId) {
  const t = state.threads.get(rootId);
  if (!t?.loaded || !t.hasMore || t.loadingMore) return;
  t.loadingMore = true;
  try {
    const params = { limit: PAGE };
    if (t.cursor) params.after = t.cursor;
    const msgs = await get(`/messages/${enc(rootId)}/thread`, params);
    msgs.forEach(noteFollowing);
    msgs.forEach((m) => seenReplies.add(m.id));
    put(t, msgs);
    if (msgs.length) t.cursor = msgs[msgs.length - 1].id;
    t.hasMore = msgs.length >= PAGE;
  } finally {
    t.loadingMore = false;
  }
  emit('thread', rootId);
}

export function forgetThread(rootId) { state.threads.delete(rootId); }

const threadReadPosted = new Map(); // roomId -> the newest reply id posted as read

/** Reading a thread: its newest reply becomes the room's read pointer (one pointer per room). */
export function markThreadRead(roomId, messageId) {
  const room = state.rooms.get(roomId);
  if (!room || !messageId) return;
  if (threadReadPosted.get(roomId) === messageId && !room.unread_count && !room.mention_count) return;
  threadReadPosted.set(roomId, messageId);
  if (room.unread_count || room.mention_count) {
    const left = counted(room) ? room.unread_count || 0 : 0;
    setRoomUnread(roomId, 0, Math.max(0, state.unreadTotal - left), 0);
  }
  postReadSoon(roomId, messageId);
}

function messageCreated(m) {
  if (m.reply_to) { replyCreated(m); return; }
  const known = alreadyKnown(m);
  const fromOther = m.author?.id !== state.me?.id;
  const room = state.rooms.get(m.room_id);
  if (m.author) rememberUser(m.author);
  // An unknown room (just added to it) arrives with its own unread count: no local increment.
  if (!room) fetchRoom(m.room_id).catch(() => {});
  clearTyping(m.room_id, m.author?.id);
  upsertMessage(m);
  if (known || !fromOther) return;
  if (isReadingLatest(m.room_id)) {
    markRead(m.room_id);
    return;
  }
  if (room) {
    room.unread_count = (room.unread_count || 0) + 1;
    if (mentionsMe(m)) room.mention_count = (room.mention_count || 0) + 1;
    if (counted(room)) state.unreadTotal += 1;
    countsChanged();
    // The room on screen, scrolled up, shows it as "Jump to latest (N new)" instead of a pop-up.
    if (!isReading(m.room_id)) emit('message:new', m);
  } else {
    // Its level is not known yet: decide once the room has arrived (fetched above).
    whenRoomKnown(m.room_id, () => emit('message:new', m));
  }
}

function whenRoomKnown(roomId, fn) {
  if (state.rooms.has(roomId)) { fn(); return; }
  const off = on('rooms', () => {
    if (!state.rooms.has(roomId)) return;
    off();
    clearTimeout(timer);
    fn();
  });
  const timer = setTimeout(off, 10000);
}

const lastReadPosted = new Map();

/**
 * Marks a room read up to `uptoId` (a loaded message; the newest loaded one when not given), once
 * per message and never backwards. Messages below it stay unread.
 */
export function markRead(roomId, uptoId = null) {
  const b = state.buckets.get(roomId);
  const list = b?.list || [];
  const room = state.rooms.get(roomId);
  const idx = uptoId ? list.findIndex((m) => m.id === uptoId) : list.length - 1;
  if (idx < 0 || !room) return;
  const target = list[idx];
  // Counts left once the newest message is read are replies' (only their thread can clear them).
  const posted = lastReadPosted.get(roomId);
  if (posted === target.id || (posted && list.findIndex((m) => m.id === posted) > idx)) return;
  lastReadPosted.set(roomId, target.id);
  room.last_read_message_id = target.id;
  const below = list.slice(idx + 1).filter((m) => m.author?.id !== state.me?.id && !m.deleted);
  const unread = below.length ? Math.min(room.unread_count || 0, below.length) : 0;
  const mentions = below.length ? Math.min(room.mention_count || 0, below.filter(mentionsMe).length) : 0;
  if ((room.unread_count || 0) !== unread || (room.mention_count || 0) !== mentions) {
    const gone = counted(room) ? (room.unread_count || 0) - unread : 0;
    setRoomUnread(roomId, unread, Math.max(0, state.unreadTotal - gone), mentions);
  }
  postReadSoon(roomId, target.id);
}

// Read pointers are posted at most once per READ_POST_MS per room, and never two at a time: a busy
// room read live would otherwise cost a write per incoming message. The local count is already
// zero; only the newest pointer of a burst matters (the server never moves a pointer back).
const READ_POST_MS = 1000;
const readPosts = new Map(); // roomId -> { want, timer, inFlight }

function postReadSoon(roomId, messageId) {
  let entry = readPosts.get(roomId);
  if (!entry) {
    entry = { want: null, timer: null, inFlight: false };
    readPosts.set(roomId, entry);
  }
  entry.want = messageId;
  if (entry.timer || entry.inFlight) return;
  // The first read of a burst goes out at once (opening a room clears its badge everywhere).
  flushRead(roomId, entry);
}

function flushRead(roomId, entry) {
  const messageId = entry.want;
  entry.want = null;
  if (!messageId) {
    readPosts.delete(roomId);
    return;
  }
  entry.inFlight = true;
  post(`/rooms/${enc(roomId)}/read`, { message_id: messageId })
    .catch(() => { if (lastReadPosted.get(roomId) === messageId) lastReadPosted.delete(roomId); })
    .finally(() => {
      entry.inFlight = false;
      entry.timer = setTimeout(() => { entry.timer = null; flushRead(roomId, entry); }, READ_POST_MS);
    });
}

// ---- typing -------------------------------------------------------------------------------------

export function setTyping(roomId, userId, until) {
  if (userId === state.me?.id) return;
  // `until` is server time; clamp so a skewed client clock neither hides nor pins the indicator.
  const ms = Math.min(Math.max(ts(until) - Date.now(), 2000), 10000);
  if (!state.typing.has(roomId)) state.typing.set(roomId, new Map());
  state.typing.get(roomId).set(userId, Date.now() + ms);
  emit('typing', roomId);
  setTimeout(() => emit('typing', roomId), ms + 50);
}

function clearTyping(roomId, userId) {
  if (state.typing.get(roomId)?.delete(userId)) emit('typing', roomId);
}

export function typingNames(roomId) {
  const now = Date.now();
  return [...(state.typing.get(roomId) || new Map())]
    .filter(([, until]) => until > now)
    .map(([id]) => state.users.get(id)?.full_name || 'Someone');
}

// ---- reactions, pins, saved ------------------------------------------------------------------
// Events carry only ids, so they patch the loaded copy of the message (if any). Each patch is
// idempotent (a set of user ids per emoji), so a replayed or locally pre-applied event is harmless.

/** The loaded copy of a message, from the room's page or the room's last message. */
export function findMessage(roomId, messageId) {
  const found = state.buckets.get(roomId)?.byId.get(messageId)
    || (state.rooms.get(roomId)?.last_message?.id === messageId ? state.rooms.get(roomId).last_message : null);
  if (found) return found;
  for (const t of state.threads.values()) {
    if (t.roomId === roomId && t.byId.has(messageId)) return t.byId.get(messageId);
  }
  return null;
}

function patchMessage(roomId, messageId, change) {
  const b = state.buckets.get(roomId);
  const room = state.rooms.get(roomId);
  let changed = false;
  const old = b?.byId.get(messageId);
  if (b?.patches) b.patches.push([messageId, change]);
  if (old) {
    put(b, [{ ...old, ...change(old) }]);
    changed = true;
  }
  if (room?.last_message?.id === messageId) {
    room.last_message = { ...room.last_message, ...change(room.last_message) };
    changed = true;
  }
  if (changed) emit('messages', roomId);
  for (const [rootId, t] of state.threads) {
    if (t.roomId !== roomId) continue;
    if (t.patches) t.patches.push([messageId, change]);
    const reply = t.byId.get(messageId);
    if (reply) {
      put(t, [{ ...reply, ...change(reply) }]);
      emit('thread', rootId);
    }
  }
}

function withReaction(reactions, emoji, userId, added) {
  const list = (reactions || []).map((r) => ({ ...r, user_ids: [...(r.user_ids || [])] }));
  let r = list.find((x) => x.emoji === emoji);
  if (added) {
    if (!r) { r = { emoji, count: 0, user_ids: [] }; list.push(r); }
    if (!r.user_ids.includes(userId)) r.user_ids.push(userId);
  } else if (r) {
    r.user_ids = r.user_ids.filter((id) => id !== userId);
  }
  for (const x of list) x.count = x.user_ids.length;
  return list.filter((x) => x.count > 0);
}

export function applyReaction(roomId, messageId, emoji, userId, added) {
  patchMessage(roomId, messageId, (m) => (m.deleted ? {} : { reactions: withReaction(m.reactions, emoji, userId, added) }));
}

export function applyPinned(roomId, messageId, pinned) {
  patchMessage(roomId, messageId, () => ({ pinned }));
  emit('pins', roomId);
}

export const isSaved = (messageId) => state.saved.has(messageId);

export function setSavedList(messages) {
  state.saved = new Set(messages.map((m) => m.id));
  emit('saved');
}

export function applySaved(messageId, saved) {
  if (saved === state.saved.has(messageId)) return;
  if (saved) state.saved.add(messageId); else state.saved.delete(messageId);
  emit('saved', messageId);
}

// ---- outbox -------------------------------------------------------------------------------------
// Messages not yet confirmed by the server. Persisted so a reload or a crash does not lose them;
// every retry reuses the client_id, so the server stores each one exactly once.

const outboxKey = () => `parlour.outbox.${state.me.id}`;

function saveOutbox() {
  try { localStorage.setItem(outboxKey(), JSON.stringify(state.outbox)); } catch { /* quota */ }
}

export function loadOutbox() {
  try { state.outbox = JSON.parse(localStorage.getItem(outboxKey()) || '[]'); } catch { state.outbox = []; }
}

const outboxChanged = (item) => {
  if (item.reply_to) emit('thread', item.reply_to); else emit('messages', item.room_id);
};

export function queueMessage(item) {
  state.outbox.push({ status: 'pending', created_at: new Date().toISOString(), ...item });
  saveOutbox();
  outboxChanged(item);
  emit('outbox');
}

export function settleOutbox(clientId, notify = true) {
  const item = state.outbox.find((o) => o.client_id === clientId);
  if (!item) return;
  state.outbox = state.outbox.filter((o) => o !== item);
  saveOutbox();
  if (notify) outboxChanged(item);
}

export function setOutboxStatus(clientId, status, error) {
  const item = state.outbox.find((o) => o.client_id === clientId);
  if (!item) return;
  item.status = status;
  item.error = error || null;
  saveOutbox();
  outboxChanged(item);
  if (status === 'pending') emit('outbox');
}

/** A room's pending messages (replies wait in their thread instead). */
export const pendingFor = (roomId) => state.outbox.filter((o) => o.room_id === roomId && !o.reply_to);
export const pendingReplies = (rootId) => state.outbox.filter((o) => o.reply_to === rootId);

// ---- events -------------------------------------------------------------------------------------

/** A room event: the room as it now is; without me among its members it is gone for me. */
const roomReducer = (ev) => {
  if (ev.room.members?.some((u) => u.id === state.me?.id)) upsertRoom(ev.room);
  else removeRoom(ev.room.id);
};

/** One reducer per event type; applyEvent() ignores types not listed here. */
export const reducers = {
  'message.created': (ev) => messageCreated(ev.message),
  'message.updated': (ev) => upsertMessage(ev.message),
  'message.deleted': (ev) => {
    upsertMessage(ev.message);
    emit('pins', ev.message.room_id);
    if (ev.message.reply_to) emit('messages', ev.message.room_id); // a thread's summary may show it
  },
  'reaction.added': (ev) => applyReaction(ev.room_id, ev.message_id, ev.emoji, ev.user_id, true),
  'reaction.removed': (ev) => applyReaction(ev.room_id, ev.message_id, ev.emoji, ev.user_id, false),
  'message.pinned': (ev) => applyPinned(ev.room_id, ev.message_id, true),
  'message.unpinned': (ev) => applyPinned(ev.room_id, ev.message_id, false),
  'saved.updated': (ev) => applySaved(ev.message_id, !!ev.saved),
  'room.created': roomReducer,
  'room.updated': roomReducer,
  'room.member_added': roomReducer,
  'room.member_removed': roomReducer,
  'unread.updated': (ev) => setRoomUnread(ev.room_id, ev.unread_count, ev.total, ev.mention_count),
  'notify.updated': (ev) => setNotify(ev.room_id, ev.notify),
  'presence.updated': (ev) => setPresence(ev.user_id, ev.status, ev.last_seen_at),
  'typing': (ev) => setTyping(ev.room_id, ev.user_id, ev.until),
  'receipt.updated': applyReceipt, // receipts.js keeps read receipts
  'ack': (ev) => {
    if (ev.message) upsertMessage(ev.message);
    settleOutbox(ev.client_id);
  },
  'error': (ev) => {
    if (!ev.client_id) return;
    // A rate limit is transient: keep it pending and let the next flush retry it.
    if (ev.error?.code === 'rate_limited') setTimeout(() => setOutboxStatus(ev.client_id, 'pending'), 2000);
    else setOutboxStatus(ev.client_id, 'failed', ev.error?.message || 'Not sent');
  },
};

export function applyEvent(ev) {
  if (Object.hasOwn(reducers, ev.type)) reducers[ev.type](ev);
}
