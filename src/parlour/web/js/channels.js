// Channels seen from outside: the Chatbox's "Browse channels" pane (every channel of my
// organization, with a search, each not-joined one with a Join button) and the preview of a
// channel I have not joined (its name, topic and member count, and Join instead of the composer:
// its messages are readable only once joined). Both fill the Chatbox's main pane and answer the
// same small interface as a room view (destroy, focusComposer, markReadIfVisible, focusMessage).

import { h, nextId, debounce, channelAvatar } from './dom.js';
import { icon } from './icons.js';
import { get, post } from './api.js';
import * as store from './store.js';

const enc = encodeURIComponent;
const members = (n) => `${n} member${n === 1 ? '' : 's'}`;

/** Joins a channel; the room goes into the store (its events may have brought it already). */
export async function joinChannel(id) {
  const room = await post(`/rooms/${enc(id)}/join`);
  return store.upsertRoom(room);
}

/**
 * The Browse channels pane. onOpen(id) opens a channel (joined: the room; else its preview),
 * onBack() returns to the list on a phone, onCreate() opens New → Channel.
 */
export function mountBrowse(container, { onOpen, onBack, onCreate }) {
  const titleId = nextId('browse');
  const search = h('input', {
    type: 'search', class: 'browse-search', 'aria-label': 'Search channels', placeholder: 'Search channels by name or topic',
  });
  const summary = h('p', { class: 'muted browse-summary', 'aria-live': 'polite' }, 'Loading channels…');
  const list = h('ul', { class: 'channel-list', 'aria-labelledby': titleId });
  const section = h('section', { class: 'room browse', 'aria-labelledby': titleId },
    h('header', { class: 'room-head' },
      h('button', { type: 'button', class: 'icon back', 'aria-label': 'Back', title: 'Back', onclick: onBack }, icon('back')),
      h('div', { class: 'grow' }, h('h2', { id: titleId }, 'Browse channels'),
        h('p', { class: 'sub muted' }, 'Channels of your organization: anyone can join.')),
      h('button', { type: 'button', onclick: onCreate }, 'New channel')),
    h('div', { class: 'browse-bar' }, search),
    h('div', { class: 'scroller browse-scroller' }, summary, list));
  container.replaceChildren(section);

  let found = null; // ids in the server's order (by name) for the current search
  let seq = 0;
  const errors = new Map(); // channel id -> message of a refused join

  async function load() {
    const mine = ++seq;
    const q = search.value.trim().replace(/^#\s*/, '');
    try {
      const channels = await get('/channels', { q });
      if (mine !== seq) return;
      store.rememberChannels(channels);
      found = channels.map((c) => c.id);
      render();
    } catch (err) {
      if (mine === seq) summary.textContent = `Could not load the channels: ${err.message}`;
    }
  }

  async function join(c, button) {
    button.disabled = true;
    errors.delete(c.id);
    try {
      await joinChannel(c.id);
      onOpen(c.id);
    } catch (err) {
      errors.set(c.id, err.message);
      button.disabled = false;
      render();
    }
  }

  function row(c) {
    const nameId = nextId('ch');
    const descId = nextId('ch-desc');
    const joined = c.joined || store.state.rooms.has(c.id);
    const error = errors.get(c.id);
    return h('li', { class: `channel-item${joined ? ' joined' : ''}`, 'data-channel': c.id },
      channelAvatar(),
      h('div', { class: 'grow' },
        // The name opens the channel (its preview when not joined); the whole row is its target.
        h('button', {
          type: 'button', class: 'channel-open', id: nameId, 'aria-describedby': descId, onclick: () => onOpen(c.id),
        }, store.channelName(c)),
        h('p', { class: 'channel-meta', id: descId },
          c.topic ? h('span', { class: 'channel-topic' }, c.topic) : h('span', { class: 'muted' }, 'No topic'),
          h('span', { class: 'muted' }, ` · ${members(c.member_count)}`),
          joined ? h('span', { class: 'sr-only' }, ' · Joined') : null), // shown by the tag beside
        error ? h('p', { class: 'field-error', role: 'alert' }, error) : null),
      joined
        ? h('span', { class: 'tag joined-tag', 'aria-hidden': 'true' }, icon('check'), 'Joined')
        : h('button', {
          type: 'button', class: 'primary small join', 'aria-describedby': nameId,
          onclick: (e) => join(c, e.currentTarget),
        }, 'Join'));
  }

  function render() {
    if (!found) return;
    const q = search.value.trim();
    const shown = found.map((id) => store.channel(id)).filter(Boolean);
    const focused = list.contains(document.activeElement)
      ? [document.activeElement.closest('li')?.dataset.channel, document.activeElement.className] : null;
    list.replaceChildren(...shown.map(row));
    if (focused) {
      const item = list.querySelector(`li[data-channel="${CSS.escape(focused[0] || '')}"]`);
      /** @type {HTMLElement | null | undefined} */
      const again = item?.querySelector(`button.${CSS.escape(String(focused[1]).split(' ').pop())}`);
      (again || item?.querySelector('button'))?.focus();
    }
    const joinedCount = shown.filter((c) => c.joined || store.state.rooms.has(c.id)).length;
    summary.textContent = shown.length
      ? `${shown.length} channel${shown.length === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''} · you are in ${joinedCount}`
      : q ? `No channels match “${q}”.` : 'There are no channels yet. Create the first one with New channel.';
  }

  const reload = debounce(load, 200);
  search.addEventListener('input', reload);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); list.querySelector('button')?.focus(); }
    if (e.key === 'Enter') {
      e.preventDefault();
      /** @type {HTMLElement | null} */ (list.querySelector('button.channel-open'))?.click();
    }
  });
  const off = store.on('channels', render);
  load();

  return {
    destroy() { seq += 1; off(); },
    focusComposer: () => search.focus(),
    markReadIfVisible() {},
    focusMessage() {},
  };
}

/**
 * A channel I have not joined: name, topic, member count and Join (no messages: the server answers
 * 404 to non-members). onJoined() runs once I am a member (here, on another device, or added).
 */
export function mountChannelPreview(container, channelId, { onBack, onJoined }) {
  const titleId = nextId('preview');
  const title = h('h2', { id: titleId });
  const sub = h('p', { class: 'sub muted' });
  const cardName = h('p', { class: 'preview-name' }); // the heading is the header's
  const cardTopic = h('p', { class: 'preview-topic' });
  const cardCount = h('p', { class: 'muted' });
  const error = h('p', { class: 'field-error', role: 'alert' });
  const joinBtn = h('button', { type: 'button', class: 'primary', onclick: join }, 'Join');
  const barName = h('strong', {});
  const section = h('section', { class: 'room channel-preview', 'aria-labelledby': titleId },
    h('header', { class: 'room-head' },
      h('button', { type: 'button', class: 'icon back', 'aria-label': 'Back', title: 'Back', onclick: onBack }, icon('back')),
      channelAvatar(), h('div', { class: 'grow' }, title, sub)),
    h('div', { class: 'scroller preview-body' },
      h('div', { class: 'preview-card' }, h('span', { class: 'big-hash', 'aria-hidden': 'true' }, '#'),
        cardName, cardTopic, cardCount,
        h('p', { class: 'muted' }, 'You are not a member of this channel. Join it to read its messages and take part.'))),
    h('div', { class: 'join-bar' }, h('p', {}, 'You are viewing ', barName), error, joinBtn));
  container.replaceChildren(section);

  function render() {
    const c = store.channel(channelId);
    if (!c) return;
    const name = store.channelName(c);
    title.textContent = name;
    cardName.textContent = name;
    barName.textContent = name;
    sub.textContent = c.topic ? `${members(c.member_count)} · ${c.topic}` : members(c.member_count);
    cardTopic.textContent = c.topic || 'No topic yet.';
    cardTopic.classList.toggle('muted', !c.topic);
    cardCount.textContent = members(c.member_count);
  }

  async function join() {
    joinBtn.disabled = true;
    error.textContent = '';
    try {
      await joinChannel(channelId); // the store's 'rooms' topic then calls onJoined
    } catch (err) {
      error.textContent = `Could not join: ${err.message}`;
      joinBtn.disabled = false;
    }
  }

  let done = false;
  const offs = [
    store.on('channels', render),
    store.on('rooms', () => {
      if (done || !store.state.rooms.has(channelId)) return;
      done = true;
      onJoined();
    }),
  ];
  render();

  return {
    destroy() { done = true; offs.forEach((off) => off()); },
    focusComposer: () => joinBtn.focus(),
    markReadIfVisible() {},
    focusMessage() {},
  };
}
