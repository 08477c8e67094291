// The Chatbox: a non-modal dialog docked at the side (full page on a phone) holding the room list
// and the open room (or Browse channels, or the preview of a channel not joined yet). It is created when opened and removed when closed, so its controls exist in
// the page only while visible and never shadow other controls with similar names.

import { h } from './dom.js';
import { icon } from './icons.js';
import { get, post } from './api.js';
import * as store from './store.js';
import { mountRoomList } from './roomlist.js';
import { mountRoomView } from './roomview.js';
import { mountBrowse, mountChannelPreview } from './channels.js';
import { openNewChat } from './dialogs.js';
import { toast } from './popups.js';

const phone = window.matchMedia('(max-width: 640px)');
let box = null; // {el, search, list, main, view, roomId, browseBtn}
let returnFocus = null; // the Chat button
/** @type {(hash: string) => void} */
let navigate = () => {};
let onClosed = () => {};

/** go(hash) routes (see app.js); closed() runs after the Chatbox closes. */
export function initChatbox({ chatButton, go, closed }) {
  returnFocus = chatButton;
  navigate = go;
  onClosed = closed;
}

export const isOpen = () => !!box;
export const activeRoomId = () => box?.roomId || null;

/** True when the given room is on screen (on a phone, only if the room pane is showing). */
export function showsRoom(roomId) {
  return !!box && box.roomId === roomId && (!phone.matches || box.el.dataset.view === 'room');
}

export function toggleChatbox() {
  if (box) closeChatbox(); else openChatbox();
}

/** @param {{roomId?: string, messageId?: string}} [opts] */
export function openChatbox({ roomId, messageId } = {}) {
  if (!box) build();
  if (roomId) showRoom(roomId, messageId);
  else box.search.focus();
}

/** The Browse channels pane: every channel of the organization, with Join. */
export function showBrowse() {
  if (!box) build();
  box.view?.destroy();
  box.roomId = null;
  box.view = mountBrowse(box.main, {
    onBack: showList,
    onOpen: (id) => navigate(`#/room/${encodeURIComponent(id)}`),
    onCreate: () => openNewChat(afterCreate, { kind: 'channel' }),
  });
  box.list.setActive(null);
  box.browseBtn.setAttribute('aria-current', 'true');
  box.el.dataset.view = 'room';
  onClosed(); // the URL no longer names a room
  box.view.focusComposer();
}

export function closeChatbox() {
  if (!box) return;
  box.view?.destroy();
  box.list.destroy();
  box.el.remove();
  box = null;
  returnFocus?.setAttribute('aria-expanded', 'false');
  returnFocus?.focus();
  onClosed();
}

function build() {
  const search = h('input', {
    type: 'search', class: 'cb-search', 'aria-label': 'Search or start a new chat',
    placeholder: 'Search or start a new chat',
  });
  const listHost = h('div', { class: 'cb-list' });
  const browseBtn = h('button', { type: 'button', class: 'browse-btn', onclick: showBrowse },
    h('span', { class: 'hash' }, icon('hash')), 'Browse channels');
  const main = h('div', { class: 'cb-main' }, placeholder());
  const el = h('div', { class: 'chatbox', role: 'dialog', 'aria-label': 'Chatbox', 'data-view': 'list' },
    h('div', { class: 'cb-side' },
      h('div', { class: 'cb-head' },
        h('h2', {}, 'Conversations'),
        h('button', { type: 'button', class: 'new-btn', title: 'New conversation', onclick: () => openNewChat(afterCreate) }, icon('compose'), h('span', {}, 'New')),
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', title: 'Close (Esc)', onclick: closeChatbox }, icon('close'))),
      search, browseBtn, listHost),
    main);
  const list = mountRoomList(listHost, {
    onOpenRoom: (id) => navigate(`#/room/${encodeURIComponent(id)}`),
    onOpenPerson: openPerson,
  });
  search.addEventListener('input', () => list.setFilter(search.value));
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); list.focusFirst(); }
    if (e.key === 'Enter') { e.preventDefault(); /** @type {HTMLButtonElement | null} */ (listHost.querySelector('button.row'))?.click(); }
  });
  document.body.append(el);
  box = { el, search, list, main, view: null, roomId: null, browseBtn };
  returnFocus?.setAttribute('aria-expanded', 'true');
}

function placeholder() {
  return h('p', { class: 'muted center cb-empty' }, 'Choose a conversation, start one with New, or browse channels.');
}

function showRoom(roomId, messageId) {
  if (box.roomId !== roomId) {
    box.view?.destroy();
    box.roomId = roomId;
    box.view = mountFor(roomId);
    box.list.setActive(roomId);
    box.browseBtn.removeAttribute('aria-current');
  } else if (!store.state.rooms.has(roomId) && !store.channel(roomId)) {
    store.fetchRoom(roomId).catch(() => {});
  }
  box.el.dataset.view = 'room';
  box.view.focusComposer();
  box.view.markReadIfVisible();
  if (messageId) box.view.focusMessage(messageId);
}

/**
 * The room view of a room of mine, or the preview (with Join) of a channel I have not joined: the
 * server answers 404 to a non-member's GET of the room, and the channel list then tells which.
 */
function mountFor(roomId) {
  const c = store.channel(roomId);
  if (!store.state.rooms.has(roomId) && c && !c.joined) {
    return mountChannelPreview(box.main, roomId, { onBack: showList, onJoined: () => remount(roomId) });
  }
  const view = mountRoomView(box.main, roomId, { onBack: showList, onLeft: leftRoom });
  if (!store.state.rooms.has(roomId)) {
    store.fetchRoom(roomId).catch(async (err) => {
      if (err.status !== 404) return;
      try { store.rememberChannels(await get('/channels')); } catch { return; }
      if (store.channel(roomId) && !store.state.rooms.has(roomId)) remount(roomId);
    });
  }
  return view;
}

/** The same room again, as what it is now (joined: the room view; not joined: the preview). */
function remount(roomId) {
  if (!box || box.roomId !== roomId) return;
  box.view?.destroy();
  box.view = mountFor(roomId);
  box.view.focusComposer();
  box.view.markReadIfVisible();
}

/** Phone layout: back from the room to the list. */
function showList() {
  if (!box) return;
  box.el.dataset.view = 'list';
  box.el.querySelector('[aria-current="true"]')?.focus();
}

function leftRoom() {
  if (!box) return;
  box.view?.destroy();
  box.view = null;
  box.roomId = null;
  box.main.replaceChildren(placeholder());
  box.list.setActive(null);
  box.browseBtn.removeAttribute('aria-current');
  showList();
  onClosed(); // the URL no longer names a room
}

function afterCreate(room) {
  store.upsertRoom(room);
  if (!box) build();
  navigate(`#/room/${encodeURIComponent(room.id)}`);
}

/** Opens (or creates; the server keeps one per pair) the direct room with a person. */
export async function openPerson(u) {
  try {
    afterCreate(await post('/rooms', { type: 'direct', user_id: u.id }));
    if (box) { box.search.value = ''; box.list.setFilter(''); }
  } catch (err) {
    toast(err.message);
  }
}

// Esc closes the Chatbox unless something inside used the key first (an edit box, a suggestion
// list) or a modal dialog is open on top.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || !box || e.defaultPrevented) return;
  if (document.querySelector('dialog[open]')) return;
  e.preventDefault();
  closeChatbox();
});

// Returning to the window counts as reading the open room.
// Deferred so app.js has recorded the focus before the reading check runs.
window.addEventListener('focus', () => setTimeout(() => box?.view?.markReadIfVisible()));
document.addEventListener('visibilitychange', () => { if (!document.hidden) box?.view?.markReadIfVisible(); });
phone.addEventListener?.('change', () => box?.view?.markReadIfVisible());
