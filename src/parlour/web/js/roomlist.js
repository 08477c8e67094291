// The Chatbox's list of my rooms (most recent first) and, while searching, people I have no
// direct room with yet. Each row is a real button; Up/Down arrows move between rows.

import { h, avatar, fmtWhen, previewText, nextId, debounce } from './dom.js';
import * as store from './store.js';
import { searchPeople } from './dialogs.js';

function matches(room, q) {
  if (!q) return true;
  const hay = [store.roomName(room), ...room.members.flatMap((u) => [u.full_name, u.email])].join(' ').toLowerCase();
  return hay.includes(q);
}

export function mountRoomList(container, { onOpenRoom, onOpenPerson }) {
  const roomsEl = h('ul', { class: 'roomlist' });
  const peopleHead = h('h3', { class: 'list-head', hidden: true }, 'People');
  const peopleEl = h('ul', { class: 'roomlist' });
  const empty = h('p', { class: 'muted center', hidden: true });
  container.append(roomsEl, empty, peopleHead, peopleEl);
  let filter = '';
  let activeId = null;
  let peopleSeq = 0;

  function roomRow(room) {
    const name = store.roomName(room);
    const other = room.type === 'direct' ? store.otherMember(room) : null;
    const descId = nextId('rl');
    const unread = room.unread_count || 0;
    return h('li', {}, h('button', {
      type: 'button', class: `row${unread ? ' has-unread' : ''}`, 'aria-label': name, 'aria-describedby': descId,
      'aria-current': room.id === activeId ? 'true' : null, 'data-room': room.id,
      onclick: () => onOpenRoom(room.id),
    },
    avatar(name, other?.status),
    h('span', { class: 'row-main' },
      h('span', { class: 'row-top' }, h('span', { class: 'name' }, name),
        h('span', { class: 'when' }, fmtWhen(room.last_message?.created_at))),
      h('span', { class: 'row-bottom', id: descId },
        h('span', { class: 'preview' }, previewText(room.last_message) || (room.type === 'group' ? `${room.members.length} members` : '')),
        unread ? h('span', { class: 'count' }, `${unread}`, h('span', { class: 'sr-only' }, ' unread')) : null))));
  }

  function personRow(u) {
    return h('li', {}, h('button', {
      type: 'button', class: 'row', 'aria-label': u.full_name, onclick: () => onOpenPerson(u),
    }, avatar(u.full_name, u.status),
    h('span', { class: 'row-main' }, h('span', { class: 'name' }, u.full_name),
      h('span', { class: 'preview' }, u.email))));
  }

  function render() {
    const q = filter.trim().toLowerCase();
    const rooms = store.sortedRooms().filter((r) => matches(r, q));
    // Rows are rebuilt on every change; carry keyboard focus over to the same room's new row.
    const focused = roomsEl.contains(document.activeElement) ? document.activeElement.dataset.room : null;
    roomsEl.replaceChildren(...rooms.map(roomRow));
    if (focused) roomsEl.querySelector(`[data-room="${CSS.escape(focused)}"]`)?.focus();
    empty.hidden = rooms.length > 0;
    empty.textContent = q ? 'No conversations match.' : 'No conversations yet. Choose New to start one.';
  }

  const findPeople = debounce(async () => {
    const mine = ++peopleSeq;
    const q = filter.trim();
    let people = [];
    if (q) {
      try {
        people = (await searchPeople(q)).filter((u) => !store.directRoomWith(u.id));
      } catch { /* offline: rooms still filter locally */ }
    }
    if (mine !== peopleSeq) return;
    peopleEl.replaceChildren(...people.map(personRow));
    peopleHead.hidden = !people.length;
  }, 200);

  // Up/Down move between rows, like a list should feel.
  container.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const rows = [...container.querySelectorAll('button.row')];
    const i = rows.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    rows[Math.max(0, Math.min(rows.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
  });

  const off = store.on('rooms', render);
  render();

  return {
    setFilter(text) { filter = text; render(); findPeople(); },
    setActive(id) { activeId = id; render(); },
    focusFirst() { container.querySelector('button.row')?.focus(); },
    destroy: off,
  };
}
