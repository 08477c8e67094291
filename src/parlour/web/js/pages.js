// Full pages reachable from the toolbar: Chat Rooms, Chat Messages, Chat Profile Report, Saved and
// the global search results. Each render function fills `main` and returns a cleanup function.

import { h, nextId, debounce, avatar, botBadge, fmtWhen, STATUS_LABEL } from './dom.js';
import { get } from './api.js';
import * as store from './store.js';
import { startEdit, messageBody } from './roomview.js';
import { setSaved } from './reactions.js';
import { roomAvatar, roomCounts } from './roomlist.js';

const roomHref = (id, messageId) => `#/room/${encodeURIComponent(id)}${messageId ? `/msg/${encodeURIComponent(messageId)}` : ''}`;
const fullTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const TYPE_LABEL = { direct: 'Direct', group: 'Group', channel: 'Channel' };
const LEVEL_LABEL = { all: 'All', mentions: 'Mentions', none: 'None' };

function labelled(text, input) {
  input.id = input.id || nextId('p');
  return h('span', { class: 'field inline' }, h('label', { for: input.id }, text), input);
}

/** A table; on a phone each row becomes a card whose cells are labelled by their column (data-label). */
function table(headers, rows) {
  for (const tr of rows) [...tr.children].forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
  return h('table', { class: 'cards' }, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows));
}

function roomLabel(roomId) {
  const room = store.state.rooms.get(roomId);
  return room ? store.roomName(room) : 'Unknown room';
}

// ---- Chat Rooms ---------------------------------------------------------------------------------

export function roomsPage(main) {
  const filter = h('input', { type: 'search', placeholder: 'Name or member' });
  const host = h('div', { class: 'table-wrap' });
  main.replaceChildren(h('h1', {}, 'Chat Rooms'), h('div', { class: 'filters' }, labelled('Filter rooms', filter)), host);

  function render() {
    const q = filter.value.trim().toLowerCase();
    const rooms = store.sortedRooms().filter((r) => !q
      || [store.roomName(r), ...r.members.map((u) => u.full_name)].join(' ').toLowerCase().includes(q));
    if (!rooms.length) {
      host.replaceChildren(h('p', { class: 'muted' }, q ? 'No rooms match.' : 'You are not in any room yet.'));
      return;
    }
    host.replaceChildren(table(['Name', 'Type', 'Members', 'Last activity', 'Notifications', 'Unread'], rooms.map((r) => {
      const names = r.members.map((u) => u.full_name);
      const level = store.notifyLevel(r);
      return h('tr', { class: level === 'none' ? 'notify-off' : null, 'data-room': r.id },
        h('td', {}, h('a', { href: roomHref(r.id) }, store.roomName(r)),
          r.topic ? h('div', { class: 'muted small-text' }, r.topic) : null),
        h('td', {}, TYPE_LABEL[r.type] || r.type),
        h('td', { title: names.join(', ') }, names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ')),
        h('td', {}, fullTime(r.last_message?.created_at || r.created_at)),
        h('td', { class: level === 'all' ? null : 'muted' }, LEVEL_LABEL[level]),
        h('td', { class: 'num counts-cell' }, r.unread_count || r.mention_count ? roomCounts(r) : '0'));
    })));
  }
  filter.addEventListener('input', render);
  render();
  return store.on('rooms', render);
}

// ---- Chat Messages ------------------------------------------------------------------------------

export function messagesPage(main) {
  const roomSel = h('select');
  const authorSel = h('select');
  // Rooms may still be loading when the page opens, so the choices refill as they arrive.
  let shownKey = '';
  const fillChoices = () => {
    const people = [...store.state.users.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
    const key = store.sortedRooms().map(store.roomName).sort().join('\n') + people.map((u) => u.id).join();
    if (key === shownKey) return; // unchanged: leave an open dropdown alone
    shownKey = key;
    const keep = [roomSel.value, authorSel.value];
    roomSel.replaceChildren(h('option', { value: '' }, 'All rooms'),
      ...store.sortedRooms().map((r) => h('option', { value: r.id }, store.roomName(r))));
    authorSel.replaceChildren(h('option', { value: '' }, 'Anyone'), ...people.map((u) => h('option', { value: u.id }, u.full_name)));
    [roomSel.value, authorSel.value] = keep;
  };
  fillChoices();
  const text = h('input', { type: 'search', placeholder: 'Words in the message' });
  const host = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(true) }, 'Load more');
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(false); } },
    labelled('Room', roomSel), labelled('Author', authorSel), labelled('Text', text),
    h('button', { type: 'submit' }, 'Filter'));
  main.replaceChildren(h('h1', {}, 'Chat Messages'), form, host, more);

  let results = [];
  let seq = 0;

  function row(m) {
    const mine = m.author?.id === store.state.me.id;
    // A deleted message is one line of text here; an edited one says so, as in the room.
    const slot = h('div', { class: 'msg-body' }, m.deleted
      ? h('span', { class: 'muted deleted-note' }, 'This message was deleted.') : messageBody(m));
    const cell = h('td', {}, slot);
    if (mine && !m.deleted) {
      cell.append(h('button', {
        type: 'button', class: 'small', onclick: (e) => {
          const btn = e.currentTarget;
          startEdit(slot, m, (ok) => { if (ok) load(false); else btn.focus(); });
        },
      }, 'Edit'));
    }
    return h('tr', {},
      h('td', {}, h('a', { href: roomHref(m.room_id, m.id) }, fullTime(m.created_at)),
        m.edited_at && !m.deleted ? [' ', h('span', { class: 'muted edited', title: `Edited ${fullTime(m.edited_at)}` }, '(edited)')] : null),
      h('td', {}, roomLabel(m.room_id)),
      h('td', {}, m.author?.full_name || ''),
      cell);
  }

  async function load(append) {
    const mine = ++seq;
    const params = {
      q: text.value.trim(), room_id: roomSel.value, author_id: authorSel.value, limit: 50,
      before: append && results.length ? results[results.length - 1].id : null,
    };
    try {
      const page = await get('/messages', params);
      if (mine !== seq) return;
      results = append ? results.concat(page) : page;
      more.hidden = page.length < 50;
      host.replaceChildren(results.length
        ? table(['When', 'Room', 'Author', 'Message'], results.map(row))
        : h('p', { class: 'muted' }, 'No messages found.'));
    } catch (err) {
      if (mine === seq) host.replaceChildren(h('p', { class: 'field-error' }, err.message));
    }
  }
  const reload = debounce(() => load(false), 300);
  roomSel.addEventListener('change', reload);
  authorSel.addEventListener('change', reload);
  text.addEventListener('input', reload);
  load(false);
  const off = store.on('rooms', fillChoices);
  return () => { seq += 1; off(); };
}

// ---- Chat Profile Report ------------------------------------------------------------------------

export function profilesPage(main, { openPerson }) {
  const filter = h('input', { type: 'search', placeholder: 'Name or email' });
  const host = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  main.replaceChildren(h('h1', {}, 'Chat Profile Report'), h('div', { class: 'filters' }, labelled('Filter people', filter)), host);
  let profiles = null;

  function render() {
    if (!profiles) return;
    const q = filter.value.trim().toLowerCase();
    const shown = profiles.filter((p) => !q || `${p.user.full_name} ${p.user.email}`.toLowerCase().includes(q));
    if (!shown.length) { host.replaceChildren(h('p', { class: 'muted' }, 'Nobody to show.')); return; }
    host.replaceChildren(table(['Name', 'Email', 'Status', 'Last seen', ''], shown.map((p) => {
      const live = store.user(p.user.id) || p.user; // presence events keep this current
      const status = live.status || p.status;
      const roomId = p.direct_room_id || store.directRoomWith(p.user.id)?.id;
      const verb = roomId ? 'Open conversation' : 'Start conversation';
      return h('tr', {},
        h('td', { class: 'who' }, avatar(store.user(p.user.id) || p.user, status), ' ', p.user.full_name, botBadge(p.user)),
        h('td', {}, p.user.email),
        h('td', {}, STATUS_LABEL[status] || status || ''),
        h('td', {}, fullTime(live.last_seen_at || p.last_seen_at)),
        h('td', {}, h('button', {
          type: 'button', class: 'small', 'aria-label': `${verb} with ${p.user.full_name}`,
          onclick: () => (roomId ? (location.hash = roomHref(roomId)) : openPerson(p.user)),
        }, verb)));
    })));
  }

  get('/reports/chat-profiles').then((rows) => {
    rows.forEach((p) => store.rememberUser(p.user));
    profiles = rows;
    render();
  }).catch((err) => host.replaceChildren(h('p', { class: 'field-error' }, err.message)));
  filter.addEventListener('input', render);
  const offs = [store.on('presence', render), store.on('rooms', render)];
  return () => offs.forEach((off) => off());
}

// ---- Saved ---------------------------------------------------------------------------------------

export function savedPage(main) {
  const host = h('div', { class: 'saved' }, h('p', { class: 'muted' }, 'Loading…'));
  main.replaceChildren(h('h1', {}, 'Saved messages'),
    h('p', { class: 'muted' }, 'Messages you saved for later, newest first. Only you see this list.'), host);
  let items = null;
  let seq = 0;

  async function load() {
    const mine = ++seq;
    try {
      const found = await get('/saved', { limit: 200 });
      if (mine !== seq) return;
      items = found;
      render();
    } catch (err) {
      if (mine === seq) host.replaceChildren(h('p', { class: 'field-error' }, `Could not load saved messages: ${err.message}`));
    }
  }

  function card(saved) {
    const m = store.findMessage(saved.room_id, saved.id) || saved;
    const headId = nextId('saved');
    const room = roomLabel(m.room_id);
    return h('li', { class: 'saved-item', 'data-id': m.id },
      h('article', { 'aria-labelledby': headId },
        h('div', { class: 'saved-head', id: headId },
          avatar((m.author && (store.user(m.author.id) || m.author)) || '?'),
          h('span', {}, h('span', { class: 'author' }, m.label || m.author?.full_name || 'Unknown'), botBadge(m.label ? { is_bot: true } : m.author),
            h('span', { class: 'muted' }, ` in ${room} · ${fmtWhen(m.created_at)}`))),
        h('div', { class: 'saved-body' }, messageBody(m)),
        h('div', { class: 'row-actions' },
          h('a', { class: 'button small', href: roomHref(m.room_id, m.id), 'aria-label': `Open in ${room}` }, 'Open'),
          h('button', { type: 'button', class: 'small', onclick: () => setSaved(m, false) }, 'Unsave'))));
  }

  function render() {
    if (!items) return;
    // Unsaved here or on another device: gone at once, before the list is reloaded.
    const shown = items.filter((m) => store.isSaved(m.id));
    if (!shown.length) {
      host.replaceChildren(h('p', { class: 'muted' }, 'Nothing saved yet. Choose Save on a message to find it here later.'));
      return;
    }
    const focusedId = host.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
    host.replaceChildren(h('ul', { class: 'saved-list' }, shown.map(card)));
    if (focusedId) /** @type {HTMLButtonElement | null} */ (host.querySelector(`li[data-id="${CSS.escape(focusedId)}"] button`))?.focus();
  }

  load();
  const offs = [
    // A save from another device (or the first snapshot) is a message this list has not got yet.
    store.on('saved', (id) => { if (!id || (store.isSaved(id) && !items?.some((m) => m.id === id))) load(); else render(); }),
    store.on('rooms', render),
    store.on('messages', (rid) => { if (items?.some((m) => m.room_id === rid)) render(); }),
  ];
  return () => { seq += 1; offs.forEach((off) => off()); };
}

// ---- global search results ----------------------------------------------------------------------

export function searchPage(main, q, { openPerson }) {
  const section = (title) => {
    const list = h('ul', { class: 'results' }, h('li', { class: 'muted' }, 'Searching…'));
    return { list, el: h('section', {}, h('h2', {}, title), list) };
  };
  const rooms = section('Rooms');
  const people = section('People');
  const messages = section('Messages');
  main.replaceChildren(h('h1', {}, 'Search results'), h('p', { class: 'muted' }, `for “${q}”`), rooms.el, people.el, messages.el);
  let live = true;

  const fill = (sec, promise, item) => promise.then((found) => {
    if (!live) return;
    sec.list.replaceChildren(...(found.length ? found.map(item) : [h('li', { class: 'muted' }, 'Nothing found.')]));
  }).catch((err) => { if (live) sec.list.replaceChildren(h('li', { class: 'field-error' }, err.message)); });

  fill(rooms, get('/rooms', { q }), (r) => {
    store.upsertRoom(r);
    return h('li', {}, roomAvatar(r), ' ', h('a', { href: roomHref(r.id) }, store.roomName(r)),
      h('span', { class: 'muted' }, ` · ${TYPE_LABEL[r.type] || r.type}`));
  });
  fill(people, get('/users', { q, limit: 20 }).then((us) => us.filter((u) => u.id !== store.state.me.id)), (u) => {
    store.rememberUser(u);
    return h('li', {}, avatar(u, u.status), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => openPerson(u) }, u.full_name), botBadge(u),
      h('span', { class: 'muted' }, ` ${u.email}`));
  });
  fill(messages, get('/messages', { q, limit: 30 }), (m) => h('li', { class: 'result-msg' },
    h('a', { href: roomHref(m.room_id, m.id) }, `${m.author?.full_name || 'Someone'} in ${roomLabel(m.room_id)}`),
    h('span', { class: 'muted' }, ` · ${fmtWhen(m.created_at)}`),
    messageBody(m)));
  return () => { live = false; };
}
