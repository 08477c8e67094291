// The toolbar on every page, one row: the brand, the page links (Chat Rooms, Chat Messages, Chat
// Profile Report, Saved), the global Search, the connection indicator, the Chat button with its
// unread badge, Preferences and (for admins) Administration, and the Account menu (status, Log out).
// On a phone (≤ 640px) the page links, Preferences and Administration fold into the Menu button's
// panel, so the row stays one line of icons with accessible names.

import { h, nextId, debounce, avatar, STATUS_LABEL } from './dom.js';
import { icon } from './icons.js';
import { patch } from './api.js';
import * as store from './store.js';
import { toast } from './popups.js';

const PAGES = [
  ['#/rooms', 'Chat Rooms', 'list'], ['#/messages', 'Chat Messages', 'chat'],
  ['#/profiles', 'Chat Profile Report', 'users'], ['#/saved', 'Saved', 'bookmark'],
];
const CONN_TEXT = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' };

/** A disclosure: button[aria-expanded] + panel; closes on Esc, outside clicks and navigation. */
function disclosure(button, panel, offs, onOpen) {
  const set = (open) => {
    panel.classList.toggle('open', open);
    button.setAttribute('aria-expanded', String(open));
    if (open) onOpen?.();
  };
  button.addEventListener('click', () => set(button.getAttribute('aria-expanded') !== 'true'));
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || button.getAttribute('aria-expanded') !== 'true') return;
    e.preventDefault();
    set(false);
    button.focus();
  });
  const outside = (e) => {
    if (button.getAttribute('aria-expanded') === 'true' && !panel.contains(e.target) && !button.contains(e.target)) set(false);
  };
  const nav = () => set(false);
  document.addEventListener('click', outside);
  window.addEventListener('hashchange', nav);
  offs.push(() => { document.removeEventListener('click', outside); window.removeEventListener('hashchange', nav); });
  return set;
}

export function mountToolbar(host, { onChat, onSearch, onLogout }) {
  const offs = [];
  const links = PAGES.map(([href, text, name]) => h('a', { href }, icon(name), h('span', {}, text)));
  const prefsLink = h('a', { href: '#/settings', class: 'tb-tool', title: 'Preferences' },
    icon('settings'), h('span', { class: 'tb-tool-label' }, 'Preferences'));
  const adminLink = h('a', { href: '#/admin', class: 'tb-tool', title: 'Administration', hidden: true },
    icon('shield'), h('span', { class: 'tb-tool-label' }, 'Administration'));
  const allLinks = [...links, prefsLink, adminLink];

  // Phone: the links live in the Menu button's panel.
  const menuPanel = h('div', { class: 'tb-menu', id: nextId('tb-menu') },
    h('nav', { 'aria-label': 'Pages', class: 'tb-pages' }, links),
    h('div', { class: 'tb-tools' }, prefsLink, adminLink));
  const menuBtn = h('button', {
    type: 'button', class: 'tb-icon menu-btn', 'aria-label': 'Menu', title: 'Menu', 'aria-expanded': 'false',
    'aria-controls': menuPanel.id,
  }, icon('menu'));
  disclosure(menuBtn, menuPanel, offs);

  const searchInput = h('input', { type: 'search', 'aria-label': 'Search', placeholder: 'Search', enterkeyhint: 'search' });
  const liveSearch = debounce(() => { if (searchInput.value.trim().length >= 2) onSearch(searchInput.value.trim(), true); }, 350);
  searchInput.addEventListener('input', liveSearch);
  const searchForm = h('form', {
    role: 'search', class: 'gsearch',
    onsubmit: (e) => { e.preventDefault(); if (searchInput.value.trim()) onSearch(searchInput.value.trim(), false); },
  }, icon('search'), searchInput);

  const conn = h('span', { class: 'conn', 'aria-live': 'polite' });
  const badgeId = nextId('badge');
  const badge = h('span', { class: 'badge', id: badgeId, 'aria-label': 'Unread messages' }, '0');
  // The badge sits beside the button (not inside it) so the button's name stays exactly "Chat".
  const chatButton = h('button', {
    type: 'button', class: 'chat-btn', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
    'aria-describedby': badgeId, onclick: onChat,
  }, icon('chat'), h('span', { class: 'label' }, 'Chat'));
  const chatWrap = h('span', { class: 'chat-wrap' }, chatButton, badge);

  // The Account menu: who I am, my status, Log out.
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
  const meAvatar = h('span', { class: 'me-avatar' });
  const myName = h('span', { class: 'me-name' });
  const menuName = h('strong', { class: 'acct-name' });
  const menuEmail = h('span', { class: 'acct-email muted' });
  const accountPanel = h('div', { class: 'popover account-menu', id: nextId('account') },
    h('div', { class: 'acct-who' }, menuName, menuEmail),
    h('div', { class: 'field' }, h('label', { for: statusId }, 'Status'), statusSelect),
    h('button', { type: 'button', class: 'menu-item', onclick: onLogout }, icon('logout'), 'Log out'));
  const accountBtn = h('button', {
    type: 'button', class: 'account-btn', 'aria-label': 'Account', title: 'Account', 'aria-expanded': 'false',
    'aria-controls': accountPanel.id,
  }, meAvatar, myName, icon('chevron'));
  disclosure(accountBtn, accountPanel, offs, () => statusSelect.focus());

  host.replaceChildren(h('header', { class: 'toolbar' },
    h('a', { href: '#/rooms', class: 'brand', 'aria-label': 'Parlour' },
      h('img', { src: '/static/favicon.svg', alt: '', width: '24', height: '24' }), h('span', { class: 'brand-name' }, 'Parlour')),
    menuBtn, menuPanel,
    searchForm,
    h('span', { class: 'spacer' }),
    conn, chatWrap,
    h('span', { class: 'account-wrap' }, accountBtn, accountPanel)));

  const showUnread = (n) => {
    badge.textContent = String(n);
    badge.classList.toggle('zero', !n);
  };
  const showConn = (s) => { conn.textContent = CONN_TEXT[s] || s; conn.dataset.state = s; conn.title = CONN_TEXT[s] || s; };
  const showMe = (me) => {
    if (!me) return;
    const u = store.user(me.id) || me;
    myName.textContent = u.full_name;
    menuName.textContent = u.full_name;
    menuEmail.textContent = u.email || '';
    meAvatar.replaceChildren(avatar(u, u.status || 'online'));
    statusSelect.value = u.status || 'online';
    adminLink.hidden = !u.is_admin;
  };
  const showPrefs = (p) => { chatWrap.hidden = !p.enable_chat; };
  offs.push(store.on('unread', showUnread), store.on('conn', showConn), store.on('me', showMe), store.on('prefs', showPrefs),
    store.on('presence', (id) => { if (id === store.state.me?.id) showMe(store.state.me); }));
  showUnread(store.state.unreadTotal);
  showConn(store.state.connection);
  showMe(store.state.me);
  showPrefs(store.state.prefs);

  return {
    chatButton,
    searchInput,
    /** Marks the link of the current page for assistive tech and styling. */
    setCurrent(hash) {
      allLinks.forEach((a) => (a.getAttribute('href') === hash ? a.setAttribute('aria-current', 'page') : a.removeAttribute('aria-current')));
    },
    destroy() { offs.forEach((off) => off()); },
  };
}
