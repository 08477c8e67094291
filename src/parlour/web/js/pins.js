// A room's pinned messages (GET /rooms/{id}/pins, newest pin first), shown in a panel under the
// room header. It reloads when a message of the room is pinned, unpinned or deleted (the store's
// 'pins' topic, fed by the events) and shows edits from the loaded copies of the messages.

import { h, nextId, fmtWhen } from './dom.js';
import { get } from './api.js';
import * as store from './store.js';
import { messageBody } from './roomview.js';
import { setPinned } from './reactions.js';

/** Fills `panel` while open; onJump(messageId) shows a message in the log. */
export function mountPins(panel, roomId, { onJump }) {
  const titleId = nextId('pins');
  const title = h('h3', { id: titleId, tabindex: '-1' }, 'Pinned messages');
  const list = h('ul', { class: 'pins' });
  const status = h('p', { class: 'muted' }, 'Loading…');
  panel.setAttribute('aria-labelledby', titleId);
  panel.setAttribute('role', 'region');
  panel.replaceChildren(title, status, list);
  let pins = null;
  let seq = 0;
  let open = false;

  async function load() {
    const mine = ++seq;
    try {
      const found = await get(`/rooms/${encodeURIComponent(roomId)}/pins`);
      if (mine !== seq) return;
      pins = found;
      render();
    } catch (err) {
      if (mine === seq) { status.hidden = false; status.textContent = `Could not load the pinned messages: ${err.message}`; }
    }
  }

  function item(pinned) {
    // The log's copy is newer when an edit arrived after the list was loaded.
    const m = store.findMessage(roomId, pinned.id) || pinned;
    const author = m.author?.full_name || 'Unknown';
    return h('li', { class: 'pin', 'data-id': m.id },
      h('div', { class: 'msg-head' },
        h('span', { class: 'author' }, author), ' ',
        h('time', { datetime: m.created_at, title: new Date(m.created_at).toLocaleString() }, fmtWhen(m.created_at))),
      h('div', { class: 'pin-body' }, messageBody(m)),
      h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Show the message from ${author}`, onclick: () => onJump(m.id, m) }, 'Show'),
        h('button', { type: 'button', class: 'small', onclick: () => setPinned(m, false) }, 'Unpin')));
  }

  function render() {
    if (!pins) return;
    // Unpinned here or by an event the list has not been reloaded for yet: leave it out already.
    const shown = pins.filter((p) => store.findMessage(roomId, p.id)?.pinned !== false);
    title.textContent = shown.length ? `Pinned messages (${shown.length})` : 'Pinned messages';
    status.hidden = shown.length > 0;
    status.textContent = 'Nothing is pinned in this conversation yet. Pin a message to keep it here for everyone.';
    const focusedId = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
    list.replaceChildren(...shown.map(item));
    if (focusedId) {
      /** @type {HTMLElement | null} */
      const again = list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] button:last-child`);
      (again || title).focus();
    }
  }

  const offs = [
    store.on('pins', (rid) => { if (rid === roomId && open) load(); }),
    store.on('messages', (rid) => { if (rid === roomId && open) render(); }),
    store.on('reset', () => { if (open) load(); }),
  ];

  return {
    show() { open = true; load(); },
    hide() { open = false; seq += 1; },
    destroy() { seq += 1; offs.forEach((off) => off()); },
  };
}
