// The Chatbox's list of my rooms (most recent first) and, while searching, channels I have not
// joined and people I have no direct room with yet. Each row is a real button; Up/Down arrows move
// between rows. A row shows its unread count, an "@N" badge for mentions of me, and a muted style
// when the room's notifications are off.

import { h, avatar, botBadge, channelAvatar, fmtWhen, nextId, debounce } from './dom.js';
import { messagePreview } from './msgtext.js';
import { icon } from './icons.js';
import { get } from './api.js';
import * as store from './store.js';
import { searchPeople } from './dialogs.js';

/** The unread count and the "@N" mentions badge of a room (also used by the Chat Rooms page). */
export function roomCounts(room) {
  const unread = room.unread_count || 0;
  const mentions = room.mention_count || 0;
  const off = store.notifyLevel(room) === 'none';
  return [
    mentions ? h('span', { class: 'mention', title: `${mentions} mention${mentions === 1 ? '' : 's'} of you` },
      h('span', { 'aria-hidden': 'true' }, `@${mentions}`),
      h('span', { class: 'sr-only' }, ` ${mentions} mention${mentions === 1 ? '' : 's'}`)) : null,
    unread ? h('span', { class: `count${off ? ' off' : ''}`, title: off ? 'Notifications off: not counted in the Chat badge' : null },
      `${unread}`, h('span', { class: 'sr-only' }, ' unread')) : null,
  ];
}

/** A room's avatar: the other person (with presence) for a direct room, "#" for a channel. */
export function roomAvatar(room) {
  if (room.type === 'channel') return channelAvatar();
  const other = room.type === 'direct' ? store.otherMember(room) : null;
  return other ? avatar(store.user(other.id) || other, other.status) : avatar(store.roomName(room));
}

function matches(room, q) {
  if (!q) return true;
  const hay = [store.roomName(room), ...room.members.flatMap((u) => [u.full_name, u.email])].join(' ').toLowerCase();
  return hay.includes(q);
}

export function mountRoomList(container, { onOpenRoom, onOpenPerson }) {
  const roomsEl = h('ul', { class: 'roomlist' });
  const channelsHead = h('h3', { class: 'list-head', hidden: true }, 'Channels to join');
  const channelsEl = h('ul', { class: 'roomlist' });
  const peopleHead = h('h3', { class: 'list-head', hidden: true }, 'People');
  const peopleEl = h('ul', { class: 'roomlist' });
  const empty = h('p', { class: 'muted center', hidden: true });
  container.append(roomsEl, empty, channelsHead, channelsEl, peopleHead, peopleEl);
  let filter = '';
  let activeId = null;
  let peopleSeq = 0;

  function roomRow(room) {
    const name = store.roomName(room);
    const descId = nextId('rl');
    const off = store.notifyLevel(room) === 'none';
    const unread = room.unread_count || 0;
    const fallback = room.type === 'direct' ? '' : room.topic || `${room.members.length} member${room.members.length === 1 ? '' : 's'}`;
    return h('li', {}, h('button', {
      type: 'button', class: `row${unread && !off ? ' has-unread' : ''}${off ? ' notify-off' : ''}`,
      'aria-label': name, 'aria-describedby': descId,
      'aria-current': room.id === activeId ? 'true' : null, 'data-room': room.id,
      onclick: () => onOpenRoom(room.id),
    },
    roomAvatar(room),
    h('span', { class: 'row-main' },
      h('span', { class: 'row-top' }, h('span', { class: 'name' }, name),
        off ? h('span', { class: 'bell-off', title: 'Notifications off' }, icon('bell-off')) : null,
        h('span', { class: 'when' }, fmtWhen(room.last_message?.created_at))),
      h('span', { class: 'row-bottom', id: descId },
        h('span', { class: 'preview' }, messagePreview(room.last_message) || fallback),
        off ? h('span', { class: 'sr-only' }, 'Notifications off') : null,
        roomCounts(room)))));
  }

  function channelRow(c) {
    return h('li', {}, h('button', {
      type: 'button', class: 'row', 'aria-label': store.channelName(c), onclick: () => onOpenRoom(c.id),
    }, channelAvatar(),
    h('span', { class: 'row-main' }, h('span', { class: 'name' }, store.channelName(c)),
      h('span', { class: 'preview' }, c.topic || `${c.member_count} member${c.member_count === 1 ? '' : 's'}`))));
  }

  function personRow(u) {
    return h('li', {}, h('button', {
      type: 'button', class: 'row', 'aria-label': u.is_bot ? `${u.full_name} (bot)` : u.full_name, onclick: () => onOpenPerson(u),
    }, avatar(u, u.status),
    h('span', { class: 'row-main' }, h('span', { class: 'name' }, u.full_name, botBadge(u)),
      h('span', { class: 'preview' }, u.email))));
  }

  function render() {
    const q = filter.trim().toLowerCase();
    const rooms = store.sortedRooms().filter((r) => matches(r, q));
    // Rows are rebuilt on every change; carry keyboard focus over to the same room's new row.
    const focused = roomsEl.contains(document.activeElement) ? /** @type {HTMLElement} */ (document.activeElement).dataset.room : null;
    roomsEl.replaceChildren(...rooms.map(roomRow));
    if (focused) /** @type {HTMLElement | null} */ (roomsEl.querySelector(`[data-room="${CSS.escape(focused)}"]`))?.focus();
    empty.hidden = rooms.length > 0;
    empty.textContent = q ? 'No conversations match.' : 'No conversations yet. Choose New to start one.';
  }

  const findPeople = debounce(async () => {
    const mine = ++peopleSeq;
    const q = filter.trim().replace(/^#\s*/, '');
    let people = [];
    let channels = [];
    if (q) {
      const [foundPeople, foundChannels] = await Promise.all([
        searchPeople(q).catch(() => []), // offline: rooms still filter locally
        get('/channels', { q }).catch(() => []),
      ]);
      people = foundPeople.filter((u) => !store.directRoomWith(u.id));
      if (mine === peopleSeq) store.rememberChannels(foundChannels);
      channels = foundChannels.filter((c) => !c.joined && !store.state.rooms.has(c.id)).slice(0, 8);
    }
    if (mine !== peopleSeq) return;
    channelsEl.replaceChildren(...channels.map(channelRow));
    channelsHead.hidden = !channels.length;
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
