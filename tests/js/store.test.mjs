// Unit tests of the store's event reducers (src/parlour/web/js/store.js), in plain Node:
//   node --test tests/js/
// Every event is applied twice where replays can happen (resume, snapshot + buffered events):
// the second application must leave the state as the first one did.

import { requests, respond, resetGlobals, settle } from './setup.mjs';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import * as store from '../../src/parlour/web/js/store.js';

const { state, applyEvent } = store;

const ME = { id: 'me', full_name: 'Me Myself', status: 'online' };
const UNA = { id: 'u1', full_name: 'Una', status: 'online' };
const BO = { id: 'u2', full_name: 'Bo', status: 'offline' };

let clock = Date.parse('2025-01-01T00:00:00Z');
const nextTime = () => { clock += 1000; return new Date(clock).toISOString(); };

function room(id, extra = {}) {
  return {
    id, type: 'group', name: `Room ${id}`, members: [{ ...ME }, { ...UNA }], admins: ['me'],
    created_at: nextTime(), unread_count: 0, mention_count: 0, ...extra,
  };
}

function msg(id, roomId, author = UNA, extra = {}) {
  return {
    id, room_id: roomId, author: { ...author }, content: `text of ${id}`, html: `<p>text of ${id}</p>`,
    created_at: nextTime(), edited_at: null, deleted: false, mentions: [], reactions: [], pinned: false,
    reply_to: null, ...extra,
  };
}

/** A loaded page of messages for a room, as loadLatest leaves it. */
function loadedBucket(roomId, msgs = []) {
  const b = { byId: new Map(msgs.map((m) => [m.id, m])), list: [...msgs], hasMore: false, loaded: true, patches: null };
  state.buckets.set(roomId, b);
  return b;
}

/** Records what the store emits on a topic. */
function listen(topic) {
  const seen = [];
  offs.push(store.on(topic, (data) => seen.push(data)));
  return seen;
}

/** Applies the same event twice (a replay), returning it. */
function twice(ev) {
  applyEvent(structuredClone(ev));
  applyEvent(structuredClone(ev));
  return ev;
}

let offs = [];

/** Fake setTimeout (typing, read posts, retries): nothing waits, and ticks are explicit. */
function mockTimeouts() {
  // Node 20.11+ takes {apis}; Node 18 (Debian bookworm's nodejs) only an array.
  try { mock.timers.enable({ apis: ['setTimeout'] }); } catch { mock.timers.enable(['setTimeout']); }
}

beforeEach(() => {
  mockTimeouts();
  resetGlobals();
  store.reset();
  store.setReadingPredicate(() => false);
  store.setMe({ ...ME });
});

afterEach(() => {
  offs.forEach((off) => off());
  offs = [];
  mock.timers.reset();
});

describe('reducer table', () => {
  test('has one reducer per event type', () => {
    const types = [
      'message.created', 'message.updated', 'message.deleted', 'reaction.added', 'reaction.removed',
      'message.pinned', 'message.unpinned', 'saved.updated', 'room.created', 'room.updated',
      'room.member_added', 'room.member_removed', 'unread.updated', 'notify.updated',
      'presence.updated', 'typing', 'ack', 'error',
    ];
    for (const type of types) assert.equal(typeof store.reducers[type], 'function', type);
  });

  test('unknown types are ignored', () => {
    store.setRooms([room('r1', { unread_count: 2 })]);
    const before = JSON.stringify([...state.rooms.values()]);
    for (const type of ['hello', 'pong', 'no.such.event', 'toString', 'constructor', '__proto__', undefined]) {
      applyEvent({ type, room_id: 'r1' });
    }
    assert.equal(JSON.stringify([...state.rooms.values()]), before);
    assert.equal(state.unreadTotal, 2);
  });
});

describe('message.created', () => {
  test("someone else's message counts as unread once, and is listed once", () => {
    store.setRooms([room('r1')]);
    const b = loadedBucket('r1');
    const popped = listen('message:new');
    const unread = listen('unread');
    const { message } = twice({ type: 'message.created', message: msg('m1', 'r1') });
    const r = state.rooms.get('r1');
    assert.equal(r.unread_count, 1);
    assert.equal(r.mention_count, 0);
    assert.equal(state.unreadTotal, 1);
    assert.equal(r.last_message.id, 'm1');
    assert.deepEqual(b.list.map((m) => m.id), ['m1']);
    assert.deepEqual(popped.map((m) => m.id), [message.id]);
    assert.deepEqual(unread, [1]);
  });

  test('without a loaded page, the room\'s last message makes the replay harmless', () => {
    store.setRooms([room('r1')]);
    twice({ type: 'message.created', message: msg('m1', 'r1') });
    assert.equal(state.rooms.get('r1').unread_count, 1);
    assert.equal(state.unreadTotal, 1);
    assert.equal(state.buckets.has('r1'), false);
  });

  test('a message mentioning me adds to the mention count', () => {
    store.setRooms([room('r1')]);
    twice({ type: 'message.created', message: msg('m1', 'r1', UNA, { mentions: ['me'] }) });
    twice({ type: 'message.created', message: msg('m2', 'r1', UNA, { mentions: ['u2'] }) });
    const r = state.rooms.get('r1');
    assert.equal(r.unread_count, 2);
    assert.equal(r.mention_count, 1);
    assert.equal(state.unreadTotal, 2);
  });

  test('my own message counts nothing and settles its outbox entry', () => {
    store.setRooms([room('r1')]);
    loadedBucket('r1');
    store.loadOutbox();
    store.queueMessage({ client_id: 'c1', room_id: 'r1', content: 'hi' });
    assert.equal(JSON.parse(localStorage.getItem('parlour.outbox.me')).length, 1);
    const popped = listen('message:new');
    twice({ type: 'message.created', message: msg('m1', 'r1', ME, { client_id: 'c1' }) });
    const r = state.rooms.get('r1');
    assert.equal(r.unread_count, 0);
    assert.equal(state.unreadTotal, 0);
    assert.equal(r.last_message.id, 'm1');
    assert.deepEqual(state.outbox, []);
    assert.deepEqual(JSON.parse(localStorage.getItem('parlour.outbox.me')), []);
    assert.deepEqual(popped, []);
  });

  test('an older message (a replay after a reload) counts nothing', () => {
    const old = msg('m0', 'r1');
    store.setRooms([room('r1', { last_message: msg('m5', 'r1') })]);
    twice({ type: 'message.created', message: old });
    assert.equal(state.rooms.get('r1').unread_count, 0);
    assert.equal(state.rooms.get('r1').last_message.id, 'm5');
  });

  test('a reply changes no counts and stays out of the room\'s list, but enters its loaded thread', () => {
    const root = msg('root', 'r1', ME);
    store.setRooms([room('r1', { last_message: root })]);
    const b = loadedBucket('r1', [root]);
    const t = { roomId: 'r1', byId: new Map(), list: [], hasMore: false, loaded: true, cursor: null, patches: null };
    state.threads.set('root', t);
    const popped = listen('message:new');
    twice({ type: 'message.created', message: msg('rep1', 'r1', UNA, { reply_to: 'root', mentions: ['me'] }) });
    const r = state.rooms.get('r1');
    assert.equal(r.unread_count, 0);
    assert.equal(r.mention_count, 0);
    assert.equal(state.unreadTotal, 0);
    assert.equal(r.last_message.id, 'root');
    assert.deepEqual(b.list.map((m) => m.id), ['root']);
    assert.deepEqual(t.list.map((m) => m.id), ['rep1']);
    assert.equal(popped.length, 1, 'a reply in my thread pops up once');
    assert.equal(store.follows('r1', 'root'), true);
  });

  test('in a room at "none" the room counts it but the total does not', () => {
    store.setRooms([room('r1', { notify: 'none' })]);
    twice({ type: 'message.created', message: msg('m1', 'r1') });
    assert.equal(state.rooms.get('r1').unread_count, 1);
    assert.equal(state.unreadTotal, 0);
  });

  test('while I read the room at its newest message it is read at once', () => {
    store.setRooms([room('r1')]);
    loadedBucket('r1');
    store.setReadingPredicate((id) => id === 'r1');
    const popped = listen('message:new');
    twice({ type: 'message.created', message: msg('m1', 'r1') });
    assert.equal(state.rooms.get('r1').unread_count, 0);
    assert.equal(state.unreadTotal, 0);
    assert.equal(state.rooms.get('r1').last_read_message_id, 'm1');
    assert.deepEqual(popped, []);
    assert.deepEqual(requests.map((q) => [q.method, q.path, q.body]), [['POST', '/rooms/r1/read', { message_id: 'm1' }]]);
  });

  test('in a room not known yet, the room is fetched and brings its own counts', async () => {
    const m1 = msg('m1', 'r9');
    respond((method, path) => (method === 'GET' && path === '/rooms/r9'
      ? { body: room('r9', { unread_count: 1, last_message: m1 }) } : { status: 404, body: null }));
    const popped = listen('message:new');
    applyEvent({ type: 'message.created', message: structuredClone(m1) });
    await settle();
    assert.equal(state.rooms.get('r9').unread_count, 1);
    assert.equal(state.unreadTotal, 1);
    assert.equal(popped.length, 1);
    // The replay finds the room (and its last message) known: nothing counts twice.
    applyEvent({ type: 'message.created', message: structuredClone(m1) });
    await settle();
    assert.equal(requests.filter((q) => q.path === '/rooms/r9').length, 1);
    assert.equal(state.rooms.get('r9').unread_count, 1);
    assert.equal(state.unreadTotal, 1);
    assert.equal(state.rooms.get('r9').last_message.id, 'm1');
    assert.equal(popped.length, 1);
  });

  test('a message from someone typing clears their typing line', () => {
    store.setRooms([room('r1')]);
    applyEvent({ type: 'typing', room_id: 'r1', user_id: 'u1', until: new Date(Date.now() + 5000).toISOString() });
    assert.deepEqual(store.typingNames('r1'), ['Una']);
    applyEvent({ type: 'message.created', message: msg('m1', 'r1') });
    assert.deepEqual(store.typingNames('r1'), []);
  });
});

describe('message.updated', () => {
  test('replaces the loaded copy and the room\'s last message, counts unchanged', () => {
    const m1 = msg('m1', 'r1');
    store.setRooms([room('r1', { last_message: m1, unread_count: 1 })]);
    const b = loadedBucket('r1', [m1]);
    const edited = { ...m1, content: 'edited', edited_at: nextTime() };
    twice({ type: 'message.updated', message: edited });
    assert.deepEqual(b.list.map((m) => [m.id, m.content]), [['m1', 'edited']]);
    assert.equal(state.rooms.get('r1').last_message.content, 'edited');
    assert.equal(state.rooms.get('r1').unread_count, 1);
    assert.equal(state.unreadTotal, 1);
  });

  test('previews filled after the send replace the loaded copy\'s, and the view is told', () => {
    const m1 = msg('m1', 'r1', UNA, { content: 'see https://example.org', previews: [], label: 'CI' });
    store.setRooms([room('r1', { last_message: m1, unread_count: 1 })]);
    const b = loadedBucket('r1', [m1]);
    const seen = listen('messages');
    const previews = [{ url: 'https://example.org', title: 'Example', description: 'A page', image_url: null }];
    twice({ type: 'message.updated', message: { ...m1, previews } });
    assert.equal(b.list.length, 1);
    assert.deepEqual(b.byId.get('m1').previews, previews);
    assert.equal(b.list[0].label, 'CI');
    assert.equal(b.list[0].edited_at, null); // a preview is not an edit
    assert.deepEqual(state.rooms.get('r1').last_message.previews, previews);
    assert.equal(state.rooms.get('r1').unread_count, 1);
    assert.deepEqual(seen, ['r1', 'r1']);
  });
});

describe('message.deleted', () => {
  test('leaves a tombstone in place and tells the pins panel', () => {
    const m1 = msg('m1', 'r1', UNA, { pinned: true });
    const m2 = msg('m2', 'r1');
    store.setRooms([room('r1', { last_message: m2 })]);
    const b = loadedBucket('r1', [m1, m2]);
    const pins = listen('pins');
    twice({ type: 'message.deleted', message: { ...m1, content: '', html: '', deleted: true, pinned: false } });
    assert.deepEqual(b.list.map((m) => [m.id, m.deleted]), [['m1', true], ['m2', false]]);
    assert.equal(state.rooms.get('r1').last_message.id, 'm2');
    assert.deepEqual(pins, ['r1', 'r1']);
  });

  test('a deleted reply updates its thread and the room\'s thread summary', () => {
    const root = msg('root', 'r1');
    const rep = msg('rep', 'r1', UNA, { reply_to: 'root' });
    store.setRooms([room('r1', { last_message: root })]);
    loadedBucket('r1', [root]);
    const t = { roomId: 'r1', byId: new Map([['rep', rep]]), list: [rep], hasMore: false, loaded: true, cursor: null, patches: null };
    state.threads.set('root', t);
    const messages = listen('messages');
    twice({ type: 'message.deleted', message: { ...rep, content: '', deleted: true } });
    assert.equal(t.byId.get('rep').deleted, true);
    assert.equal(state.buckets.get('r1').byId.has('rep'), false);
    assert.deepEqual(messages, ['r1', 'r1']);
  });
});

describe('room events', () => {
  test('room.created with me adds the room at its type\'s default level, once', () => {
    const rooms = listen('rooms');
    twice({ type: 'room.created', room: room('c1', { type: 'channel', name: 'general', unread_count: undefined }) });
    twice({ type: 'room.created', room: room('g1', { unread_count: undefined }) });
    assert.equal(state.rooms.size, 2);
    assert.equal(state.rooms.get('c1').notify, 'mentions');
    assert.equal(state.rooms.get('g1').notify, 'all');
    assert.equal(state.rooms.get('c1').unread_count, 0);
    assert.equal(state.unreadTotal, 0);
    assert.equal(store.user('u1').full_name, 'Una');
    assert.ok(rooms.length >= 4);
  });

  test('room.created without me is not mine', () => {
    twice({ type: 'room.created', room: room('g1', { members: [UNA, BO] }) });
    assert.equal(state.rooms.has('g1'), false);
  });

  test('room.updated renames and keeps my counts, level and read pointer', () => {
    store.setRooms([room('r1', { unread_count: 3, mention_count: 1, notify: 'mentions', last_read_message_id: 'm7' })]);
    twice({ type: 'room.updated', room: { ...room('r1', { name: 'Renamed' }), unread_count: undefined, mention_count: undefined } });
    const r = state.rooms.get('r1');
    assert.equal(r.name, 'Renamed');
    assert.equal(r.unread_count, 3);
    assert.equal(r.mention_count, 1);
    assert.equal(r.notify, 'mentions');
    assert.equal(r.last_read_message_id, 'm7');
    assert.equal(state.unreadTotal, 3);
  });

  test('room.updated keeps a newer last message than its payload\'s', () => {
    const older = msg('m1', 'r1');
    const newer = msg('m2', 'r1');
    store.setRooms([room('r1', { last_message: newer })]);
    twice({ type: 'room.updated', room: room('r1', { last_message: older }) });
    assert.equal(state.rooms.get('r1').last_message.id, 'm2');
  });

  test('room.member_added adds the member (one canonical user object)', () => {
    store.setRooms([room('r1')]);
    twice({ type: 'room.member_added', room: room('r1', { members: [ME, UNA, BO] }), user_ids: ['u2'] });
    const r = state.rooms.get('r1');
    assert.deepEqual(r.members.map((u) => u.id), ['me', 'u1', 'u2']);
    assert.equal(r.members[2], store.user('u2'));
  });

  test('room.member_added with me brings a room I was added to', () => {
    twice({ type: 'room.member_added', room: room('r2', { unread_count: undefined }), user_ids: ['me'] });
    assert.equal(state.rooms.get('r2').unread_count, 0);
    assert.equal(state.rooms.size, 1);
  });

  test('room.member_removed of someone else keeps the room', () => {
    store.setRooms([room('r1', { members: [ME, UNA, BO], unread_count: 2 })]);
    twice({ type: 'room.member_removed', room: room('r1', { members: [ME, UNA] }), user_id: 'u2' });
    assert.deepEqual(state.rooms.get('r1').members.map((u) => u.id), ['me', 'u1']);
    assert.equal(state.rooms.get('r1').unread_count, 2);
    assert.equal(state.unreadTotal, 2);
  });

  test('room.member_removed of me: the room, its page and its unread are gone', () => {
    store.setRooms([room('r1', { unread_count: 2 }), room('c1', { type: 'channel', unread_count: 1 })]);
    store.rememberChannels([{ id: 'c1', name: 'general', member_count: 2, joined: true }]);
    loadedBucket('c1', [msg('m1', 'c1')]);
    assert.equal(state.unreadTotal, 3);
    const removed = listen('room:removed');
    twice({ type: 'room.member_removed', room: room('c1', { type: 'channel', members: [UNA] }), user_id: 'me' });
    assert.equal(state.rooms.has('c1'), false);
    assert.equal(state.buckets.has('c1'), false);
    assert.equal(state.unreadTotal, 2);
    assert.deepEqual(removed, ['c1']);
    assert.equal(store.channel('c1').joined, false);
    assert.equal(store.channel('c1').member_count, 1);
  });
});

describe('unread.updated', () => {
  test('sets absolute counts (the last one wins)', () => {
    store.setRooms([room('r1', { unread_count: 5 }), room('r2', { unread_count: 1 })]);
    twice({ type: 'unread.updated', room_id: 'r1', unread_count: 4, total: 5, mention_count: 2 });
    assert.equal(state.rooms.get('r1').unread_count, 4);
    assert.equal(state.rooms.get('r1').mention_count, 2);
    assert.equal(state.unreadTotal, 5);
    twice({ type: 'unread.updated', room_id: 'r1', unread_count: 0, total: 1, mention_count: 0 });
    assert.equal(state.rooms.get('r1').unread_count, 0);
    assert.equal(state.rooms.get('r1').mention_count, 0);
    assert.equal(state.rooms.get('r2').unread_count, 1);
    assert.equal(state.unreadTotal, 1);
  });

  test('for a room not known, only the total moves', () => {
    store.setRooms([room('r1')]);
    twice({ type: 'unread.updated', room_id: 'r9', unread_count: 3, total: 3, mention_count: 0 });
    assert.equal(state.rooms.has('r9'), false);
    assert.equal(state.unreadTotal, 3);
  });
});

describe('reactions', () => {
  const added = (emoji, userId) => ({ type: 'reaction.added', room_id: 'r1', message_id: 'm1', emoji, user_id: userId });
  const removed = (emoji, userId) => ({ ...added(emoji, userId), type: 'reaction.removed' });
  const reactionsOf = () => state.buckets.get('r1').byId.get('m1').reactions;

  test('reaction.added is idempotent per user and emoji, in order of first use', () => {
    const m1 = msg('m1', 'r1');
    store.setRooms([room('r1', { last_message: m1 })]);
    loadedBucket('r1', [m1]);
    twice(added('👍', 'u1'));
    twice(added('👍', 'me'));
    twice(added('🎉', 'u1'));
    assert.deepEqual(reactionsOf(), [
      { emoji: '👍', count: 2, user_ids: ['u1', 'me'] },
      { emoji: '🎉', count: 1, user_ids: ['u1'] },
    ]);
    assert.deepEqual(state.rooms.get('r1').last_message.reactions, reactionsOf());
  });

  test('reaction.removed is idempotent; an emoji nobody uses leaves', () => {
    const m1 = msg('m1', 'r1', UNA, { reactions: [{ emoji: '👍', count: 2, user_ids: ['u1', 'me'] }] });
    store.setRooms([room('r1')]);
    loadedBucket('r1', [m1]);
    twice(removed('👍', 'u1'));
    assert.deepEqual(reactionsOf(), [{ emoji: '👍', count: 1, user_ids: ['me'] }]);
    twice(removed('👍', 'me'));
    assert.deepEqual(reactionsOf(), []);
    twice(removed('🎉', 'me'));
    assert.deepEqual(reactionsOf(), []);
  });

  test('a deleted message takes no reactions', () => {
    store.setRooms([room('r1')]);
    loadedBucket('r1', [msg('m1', 'r1', UNA, { deleted: true })]);
    twice(added('👍', 'u1'));
    assert.deepEqual(reactionsOf(), []);
  });

  test('reactions arriving while the first page loads are replayed onto it', async () => {
    store.setRooms([room('r1')]);
    const m1 = msg('m1', 'r1');
    respond((method, path, body, query) => (path === '/rooms/r1/messages' && query === 'limit=50'
      ? { body: [m1] } : { status: 404 }));
    const loading = store.loadLatest('r1');
    twice(added('👍', 'u1'));
    await loading;
    assert.deepEqual(reactionsOf(), [{ emoji: '👍', count: 1, user_ids: ['u1'] }]);
    assert.equal(state.buckets.get('r1').patches, null);
  });
});

describe('pins', () => {
  test('message.pinned and message.unpinned set the flag, replays included', () => {
    const m1 = msg('m1', 'r1');
    store.setRooms([room('r1', { last_message: m1 })]);
    const b = loadedBucket('r1', [m1]);
    const pins = listen('pins');
    const ev = { room_id: 'r1', message_id: 'm1', user_id: 'u1' };
    twice({ type: 'message.pinned', ...ev });
    assert.equal(b.byId.get('m1').pinned, true);
    assert.equal(state.rooms.get('r1').last_message.pinned, true);
    twice({ type: 'message.unpinned', ...ev });
    assert.equal(b.byId.get('m1').pinned, false);
    assert.equal(state.rooms.get('r1').last_message.pinned, false);
    assert.deepEqual(pins, ['r1', 'r1', 'r1', 'r1']);
  });
});

describe('saved.updated', () => {
  test('adds and removes my saved ids, telling listeners only of changes', () => {
    const saved = listen('saved');
    twice({ type: 'saved.updated', message_id: 'm1', saved: true });
    assert.equal(store.isSaved('m1'), true);
    twice({ type: 'saved.updated', message_id: 'm1', saved: false });
    assert.equal(store.isSaved('m1'), false);
    assert.deepEqual(saved, ['m1', 'm1']);
  });
});

describe('notify.updated', () => {
  test('a room at "none" leaves the total once; back at "all" it counts again', () => {
    store.setRooms([room('r1', { unread_count: 2 }), room('r2', { unread_count: 1 })]);
    assert.equal(state.unreadTotal, 3);
    twice({ type: 'notify.updated', room_id: 'r1', notify: 'none' });
    assert.equal(state.rooms.get('r1').notify, 'none');
    assert.equal(state.unreadTotal, 1);
    twice({ type: 'notify.updated', room_id: 'r1', notify: 'mentions' });
    assert.equal(state.rooms.get('r1').notify, 'mentions');
    assert.equal(state.unreadTotal, 3);
    assert.equal(store.wantsNotice(msg('m1', 'r1')), false);
    assert.equal(store.wantsNotice(msg('m2', 'r1', UNA, { mentions: ['me'] })), true);
  });

  test('an unknown level or room changes nothing', () => {
    store.setRooms([room('r1', { unread_count: 2 })]);
    applyEvent({ type: 'notify.updated', room_id: 'r1', notify: 'loud' });
    applyEvent({ type: 'notify.updated', room_id: 'r9', notify: 'none' });
    assert.equal(state.rooms.get('r1').notify, 'all');
    assert.equal(state.unreadTotal, 2);
  });
});

describe('presence.updated', () => {
  test('updates a known user everywhere they appear', () => {
    store.setRooms([room('r1')]);
    const presence = listen('presence');
    twice({ type: 'presence.updated', user_id: 'u1', status: 'away', last_seen_at: '2025-01-02T00:00:00Z' });
    assert.equal(store.user('u1').status, 'away');
    assert.equal(store.user('u1').last_seen_at, '2025-01-02T00:00:00Z');
    assert.equal(state.rooms.get('r1').members[1].status, 'away');
    assert.deepEqual(presence, ['u1', 'u1']);
  });

  test('an unknown user is ignored', () => {
    twice({ type: 'presence.updated', user_id: 'u9', status: 'online', last_seen_at: null });
    assert.equal(store.user('u9'), undefined);
  });
});

describe('typing', () => {
  test('shows who types, once, until the indicator runs out', () => {
    store.setRooms([room('r1')]);
    const until = new Date(Date.now() + 5000).toISOString();
    twice({ type: 'typing', room_id: 'r1', user_id: 'u1', until });
    assert.deepEqual(store.typingNames('r1'), ['Una']);
    assert.equal(state.typing.get('r1').size, 1);
  });

  test('my own typing frames are ignored', () => {
    twice({ type: 'typing', room_id: 'r1', user_id: 'me', until: new Date(Date.now() + 5000).toISOString() });
    assert.deepEqual(store.typingNames('r1'), []);
  });
});

describe('outbox frames', () => {
  test('ack settles the send and stores its message', () => {
    store.setRooms([room('r1')]);
    store.loadOutbox();
    store.queueMessage({ client_id: 'c1', room_id: 'r1', content: 'hi' });
    const m1 = msg('m1', 'r1', ME, { client_id: 'c1' });
    twice({ type: 'ack', client_id: 'c1', message: m1 });
    assert.deepEqual(state.outbox, []);
    assert.equal(state.rooms.get('r1').last_message.id, 'm1');
    assert.equal(state.unreadTotal, 0);
  });

  test('error marks the send failed; a rate limit keeps it pending', () => {
    store.loadOutbox();
    store.queueMessage({ client_id: 'c1', room_id: 'r1', content: 'a' });
    store.queueMessage({ client_id: 'c2', room_id: 'r1', content: 'b' });
    twice({ type: 'error', client_id: 'c1', retryable: false, error: { code: 'forbidden', message: 'Not a member' } });
    applyEvent({ type: 'error', client_id: 'c2', retryable: true, error: { code: 'rate_limited', message: 'Slow down' } });
    applyEvent({ type: 'error', retryable: false, error: { code: 'bad_frame', message: 'x' } });
    const [c1, c2] = state.outbox;
    assert.deepEqual([c1.status, c1.error], ['failed', 'Not a member']);
    assert.equal(c2.status, 'pending');
    mock.timers.tick(2000);
    assert.equal(state.outbox[1].status, 'pending');
    assert.equal(state.outbox[1].error, null);
    assert.equal(JSON.parse(localStorage.getItem('parlour.outbox.me'))[0].status, 'failed');
  });
});

describe('preferences being saved', () => {
  test('a profile read that lands meanwhile does not undo them; after the answer it may', () => {
    store.savingPrefs({ email_notifications: 'never' });
    store.setMe({ ...ME, preferences: { email_notifications: 'direct_and_mentions', message_preview: false } });
    assert.equal(state.prefs.email_notifications, 'never');
    assert.equal(state.prefs.message_preview, false); // what was not being saved comes from the read
    store.savedPrefs(['email_notifications']);
    store.setMe({ ...ME, preferences: { email_notifications: 'direct_and_mentions' } });
    assert.equal(state.prefs.email_notifications, 'direct_and_mentions');
  });
});
