// Bootstrap and routing. On load: GET /users/me decides between the login form and the app.
// Routes (hash based, so the server serves one page): #/rooms, #/messages, #/profiles, #/saved,
// #/settings, #/admin, #/search/<q>, and #/room/<id>[/msg/<messageId>] which opens the Chatbox on top of the last page.

import { h, nextId } from './dom.js';
import { ApiError, get, post, onUnauthorized, rememberCsrf, csrfToken } from './api.js';
import * as store from './store.js';
import * as socket from './socket.js';
import { mountToolbar } from './toolbar.js';
import * as chatbox from './chatbox.js';
import { mountPopups } from './popups.js';
import { roomsPage, messagesPage, profilesPage, searchPage, savedPage } from './pages.js';
import * as receipts from './receipts.js';
import { startTabs } from './tabs.js';
import { startActivity } from './activity.js';
import { settingsPage } from './settings.js';
import { adminPage } from './admin.js';
import { forgetPush, listenToWorker, registerWorker } from './push.js';

const root = document.getElementById('app');
let session = null; // {toolbar, main, cleanupPage, pageKind, offPopups, offTabs, offActivity}
let windowFocused = document.hasFocus();
window.addEventListener('focus', () => { windowFocused = true; });
window.addEventListener('blur', () => { windowFocused = false; });

// ---- login --------------------------------------------------------------------------------------

function showLogin(notice) {
  endSession();
  document.title = 'Log in · Parlour';
  const email = h('input', { type: 'email', id: nextId('email'), autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', id: nextId('pw'), autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'field-error', role: 'alert' }, notice || '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'login', novalidate: true }, h('h1', {}, 'Parlour'),
    h('div', { class: 'field' }, h('label', { for: email.id }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { for: password.id }, 'Password'), password),
    error, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (!email.value.trim() || !password.value) { error.textContent = 'Enter your email and password.'; return; }
    button.disabled = true;
    try {
      const res = await post('/auth/login', { email: email.value.trim(), password: password.value });
      rememberCsrf(res.csrf_token);
      startSession(res.user);
    } catch (err) {
      error.textContent = loginError(err);
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  root.replaceChildren(h('main', { class: 'login-page' }, form));
  email.focus();
}

function loginError(err) {
  if (err.status === 401) return 'Wrong email or password.';
  if (err.status === 429) {
    const wait = err.retryAfter ? ` Try again in ${err.retryAfter} second${err.retryAfter === 1 ? '' : 's'}.` : ' Try again later.';
    return `Too many login attempts.${wait}`;
  }
  if (err.status === 0) return 'Cannot reach the server. Check your connection.';
  return err.message;
}

// ---- session ------------------------------------------------------------------------------------

function startSession(user) {
  endSession();
  loadedOnce = false;
  store.setMe(user);
  store.loadOutbox();
  const toolbarHost = h('div', { class: 'toolbar-host' });
  const main = h('main', { id: 'main', class: 'page', tabindex: '-1' });
  root.replaceChildren(h('a', { href: '#main', class: 'skip' }, 'Skip to content'), toolbarHost, main);
  const toolbar = mountToolbar(toolbarHost, { onChat: chatbox.toggleChatbox, onSearch: search, onLogout: logout });
  chatbox.initChatbox({ chatButton: toolbar.chatButton, go, closed: leaveRoomRoute });
  session = { toolbar, main, cleanupPage: null, offPopups: mountPopups((id) => go(`#/room/${encodeURIComponent(id)}`)) };
  store.setReadingPredicate((roomId) => chatbox.showsRoom(roomId) && !document.hidden && windowFocused);
  // One tab speaks for all (tabs.js): each tells the others which room it is reading.
  session.offTabs = startTabs(user.id, {
    reading: () => { const id = chatbox.activeRoomId(); return id && store.isReading(id) ? [id] : []; },
  });
  session.offActivity = startActivity();
  socket.start({ onHello, onResync: reloadState, onEvent, onRevoked: () => showLogin('Your session ended. Please log in again.') });
  registerWorker(); // shows Web Push notifications (push.js, /sw.js)
  route();
}

function endSession() {
  if (!session) return;
  socket.stop();
  chatbox.closeChatbox();
  session.cleanupPage?.();
  session.toolbar.destroy();
  session.offPopups();
  session.offTabs();
  session.offActivity();
  session = null;
  store.reset();
  receipts.reset();
}

async function logout() {
  if (store.state.me) await forgetPush(store.state.me.id); // a shared browser gets no more of my pushes
  try { await post('/auth/logout'); } catch { /* the session may already be gone */ }
  socket.forgetCursor();
  showLogin();
}

// ---- state loading ------------------------------------------------------------------------------
// The REST snapshot is taken after `hello`, and events arriving meanwhile are buffered and applied
// on top: applying them is idempotent (messages dedupe by id, unread counts are absolute), so the
// result is complete with no gap.

let buffer = null;
let reloadAgain = false;
let loadedOnce = false; // per session: the first hello always takes a snapshot

function onHello(frame, resumed) {
  store.rememberUser(frame.user);
  store.emit('me', store.state.me);
  receipts.reloadWatched(); // receipt.updated is not replayed: what was missed comes over REST
  // A fresh socket (no cursor) knows nothing we missed: take a snapshot. A resumed one replays.
  if (!loadedOnce || !resumed) reloadState();
}

function onEvent(frame) {
  if (buffer) buffer.push(frame); else store.applyEvent(frame);
}

async function reloadState() {
  if (buffer) { reloadAgain = true; return; }
  buffer = [];
  try {
    do {
      reloadAgain = false;
      // Saved messages only mark Save/Unsave; a failure there must not hold up the rest.
      const [rooms, unread, saved] = await Promise.all([get('/rooms'), get('/unread'),
        get('/saved', { limit: 200 }).catch(() => null)]);
      store.setRooms(rooms);
      store.setUnread(unread);
      if (saved) store.setSavedList(saved);
      if (loadedOnce) store.resetBuckets(); // open views reload their messages
      loadedOnce = true;
    } while (reloadAgain);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) setTimeout(reloadState, 3000);
  } finally {
    const pending = buffer;
    buffer = null;
    pending.forEach(store.applyEvent);
  }
}

// ---- routing ------------------------------------------------------------------------------------

let lastPage = '#/rooms';

/** Navigates; re-routes even when the hash is unchanged (re-opening the same room on a phone). */
function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function search(q, live) {
  const hash = `#/search/${encodeURIComponent(q)}`;
  if (live && location.hash.startsWith('#/search/')) { history.replaceState(null, '', hash); route(); } else go(hash);
}

/** The Chatbox closed or its room went away: the address shows the page underneath again. */
function leaveRoomRoute() {
  if (location.hash.startsWith('#/room/')) history.replaceState(null, '', lastPage);
}

function route() {
  if (!session) return;
  const hash = location.hash || '#/rooms';
  const room = hash.match(/^#\/room\/([^/]+)(?:\/msg\/([^/]+))?$/);
  if (room) {
    if (!session.cleanupPage) renderPage(lastPage);
    chatbox.openChatbox({ roomId: decodeURIComponent(room[1]), messageId: room[2] && decodeURIComponent(room[2]) });
    return;
  }
  renderPage(hash);
}

function renderPage(hash) {
  const { main } = session;
  session.cleanupPage?.();
  const ctx = { openPerson: chatbox.openPerson };
  const searchMatch = hash.match(/^#\/search\/(.*)$/);
  let page = hash;
  if (searchMatch) {
    const q = decodeURIComponent(searchMatch[1]);
    if (session.toolbar.searchInput.value.trim() !== q) session.toolbar.searchInput.value = q;
    session.cleanupPage = searchPage(main, q, ctx);
  } else if (hash === '#/messages') {
    session.cleanupPage = messagesPage(main);
  } else if (hash === '#/profiles') {
    session.cleanupPage = profilesPage(main, ctx);
  } else if (hash === '#/saved') {
    session.cleanupPage = savedPage(main);
  } else if (hash === '#/settings') {
    session.cleanupPage = settingsPage(main);
  } else if (hash === '#/admin') {
    session.cleanupPage = adminPage(main);
  } else {
    page = '#/rooms';
    session.cleanupPage = roomsPage(main);
  }
  // Another page starts at its top (the window keeps its scroll across hash routes otherwise);
  // a new search query or the same page again stays where it is.
  const kind = searchMatch ? '#/search/' : page;
  if (session.pageKind && session.pageKind !== kind) window.scrollTo(0, 0);
  session.pageKind = kind;
  lastPage = hash.startsWith('#/search/') ? hash : page;
  session.toolbar.setCurrent(page);
  document.title = `${main.querySelector('h1')?.textContent || 'Parlour'} · Parlour`;
}

window.addEventListener('hashchange', route);
// A clicked push notification (sw.js) opens its room here; before a login, once logged in.
listenToWorker((roomId) => go(`#/room/${encodeURIComponent(roomId)}`));
onUnauthorized(() => { if (session) showLogin('Your session ended. Please log in again.'); });

async function boot() {
  // No parlour_csrf cookie (it comes with every session and is readable here): nobody is logged
  // in, so show the form without asking the server (a 401 in the console on every visit).
  if (!csrfToken()) { showLogin(); return; }
  try {
    startSession(await get('/users/me'));
  } catch (err) {
    showLogin(err.status === 401 ? '' : loginError(err));
  }
}

boot();
