// The toolbar on every page: page links, the global Search, the connection indicator, the Chat
// button with its unread badge, my status, preferences and Log out.

import { h, nextId, debounce, STATUS_LABEL } from './dom.js';
import { patch } from './api.js';
import * as store from './store.js';
import { requestDesktopPermission, toast } from './popups.js';

const PAGES = [['#/rooms', 'Chat Rooms'], ['#/messages', 'Chat Messages'], ['#/profiles', 'Chat Profile Report'], ['#/saved', 'Saved']];
const PREFS = [
  ['message_preview', 'Message preview in pop-ups'],
  ['notification_sound', 'Notification sound'],
  ['desktop_notifications', 'Desktop notifications'],
  ['enable_chat', 'Enable chat'],
];
const CONN_TEXT = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' };

export function mountToolbar(host, { onChat, onSearch, onLogout }) {
  const offs = [];
  const links = PAGES.map(([href, text]) => h('a', { href }, text));

  const searchInput = h('input', { type: 'search', 'aria-label': 'Search', placeholder: 'Search', enterkeyhint: 'search' });
  const liveSearch = debounce(() => { if (searchInput.value.trim().length >= 2) onSearch(searchInput.value.trim(), true); }, 350);
  searchInput.addEventListener('input', liveSearch);
  const searchForm = h('form', {
    role: 'search', class: 'gsearch',
    onsubmit: (e) => { e.preventDefault(); if (searchInput.value.trim()) onSearch(searchInput.value.trim(), false); },
  }, searchInput);

  const conn = h('span', { class: 'conn', 'aria-live': 'polite' });
  const badgeId = nextId('badge');
  const badge = h('span', { class: 'badge', id: badgeId, 'aria-label': 'Unread messages' }, '0');
  // The badge sits beside the button (not inside it) so the button's name stays exactly "Chat".
  const chatButton = h('button', {
    type: 'button', class: 'chat-btn', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
    'aria-describedby': badgeId, onclick: onChat,
  }, 'Chat');
  const chatWrap = h('span', { class: 'chat-wrap' }, chatButton, badge);

  const statusId = nextId('status');
  const statusSelect = h('select', { id: statusId },
    Object.entries(STATUS_LABEL).map(([value, text]) => h('option', { value }, text)));
  statusSelect.addEventListener('change', async () => {
    const previous = store.state.me.status;
    try {
      const me = await patch('/users/me', { status: statusSelect.value });
      store.setMe(me?.id ? me : { ...store.state.me, status: statusSelect.value });
    } catch (err) {
      statusSelect.value = previous;
      toast(`Could not change status: ${err.message}`);
    }
  });

  const prefsPanel = h('div', { class: 'popover', id: nextId('prefs'), hidden: true });
  const prefsNote = h('p', { class: 'hint', 'aria-live': 'polite' });
  const prefsButton = h('button', {
    type: 'button', 'aria-expanded': 'false', 'aria-controls': prefsPanel.id, onclick: () => togglePrefs(),
  }, 'Preferences');
  const prefBoxes = PREFS.map(([key, text]) => {
    const box = h('input', { type: 'checkbox', onchange: () => savePref(key, box.checked) });
    return [key, box, h('label', { class: 'choice' }, box, ` ${text}`)];
  });
  prefsPanel.append(h('h2', {}, 'Preferences'), ...prefBoxes.map(([, , label]) => label), prefsNote);

  function togglePrefs(force) {
    const open = force ?? prefsPanel.hidden;
    prefsPanel.hidden = !open;
    prefsButton.setAttribute('aria-expanded', String(open));
    if (open) prefBoxes[0][1].focus();
  }
  prefsPanel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); togglePrefs(false); prefsButton.focus(); }
  });
  const outside = (e) => {
    if (!prefsPanel.hidden && !prefsPanel.contains(e.target) && e.target !== prefsButton) togglePrefs(false);
  };
  document.addEventListener('click', outside);
  offs.push(() => document.removeEventListener('click', outside));

  async function savePref(key, value) {
    prefsNote.textContent = '';
    if (key === 'desktop_notifications' && value) {
      const permission = await requestDesktopPermission();
      if (permission !== 'granted') prefsNote.textContent = 'This browser does not allow notifications for this site.';
    }
    const prefs = { ...store.state.prefs, [key]: value };
    store.setPrefs(prefs);
    try {
      await patch('/users/me', { preferences: prefs });
    } catch (err) {
      prefsNote.textContent = `Not saved: ${err.message}`;
    }
  }

  const myName = h('span', { class: 'me-name' });
  const logout = h('button', { type: 'button', onclick: onLogout }, 'Log out');

  host.replaceChildren(h('header', { class: 'toolbar' },
    h('a', { href: '#/rooms', class: 'brand' }, 'Parlour'),
    h('nav', { 'aria-label': 'Pages' }, links),
    searchForm,
    h('span', { class: 'spacer' }),
    conn, chatWrap,
    h('label', { for: statusId, class: 'sr-only' }, 'Status'), statusSelect,
    h('span', { class: 'prefs-wrap' }, prefsButton, prefsPanel),
    myName, logout));

  const showUnread = (n) => {
    badge.textContent = String(n);
    badge.classList.toggle('zero', !n);
  };
  const showConn = (s) => { conn.textContent = CONN_TEXT[s] || s; conn.dataset.state = s; };
  const showMe = (me) => { myName.textContent = me.full_name; statusSelect.value = me.status || 'online'; };
  const showPrefs = (p) => {
    for (const [key, box] of prefBoxes) box.checked = !!p[key];
    chatWrap.hidden = !p.enable_chat;
  };
  offs.push(store.on('unread', showUnread), store.on('conn', showConn), store.on('me', showMe), store.on('prefs', showPrefs),
    store.on('presence', (id) => { if (id === store.state.me.id) showMe(store.state.me); }));
  showUnread(store.state.unreadTotal);
  showConn(store.state.connection);
  showMe(store.state.me);
  showPrefs(store.state.prefs);

  return {
    chatButton,
    searchInput,
    /** Marks the link of the current page for assistive tech and styling. */
    setCurrent(hash) { links.forEach((a) => (a.getAttribute('href') === hash ? a.setAttribute('aria-current', 'page') : a.removeAttribute('aria-current'))); },
    destroy() { offs.forEach((off) => off()); },
  };
}
