// The Thread panel of a room: the root message, its replies oldest first (50 at a time, "Load more
// replies" for the rest) and a composer whose messages are replies (box "Reply in thread").
// Beside the room on a desktop, over it on a phone (CSS). Live through the store: 'thread'(rootId)
// for replies (new, edited, deleted, reactions, pending ones), 'messages'(roomId) for the root.
// Reading the open thread moves the room's read pointer to its newest reply.

import { h, nextId } from './dom.js';
import { icon } from './icons.js';
import * as store from './store.js';
import { mountComposer } from './composer.js';

/**
 * root: the root message (or at least {id}); kitFor(opts) makes the message items (roomview's
 * messageKit); onClose() closes the panel (its button, or Esc inside it).
 */
export function mountThread(host, roomId, root, { kitFor, onClose }) {
  const rootId = root.id;
  const titleId = nextId('thread-title');
  const where = h('p', { class: 'sub muted' });
  const rootList = h('ol', { class: 'msgs thread-root' });
  const countLine = h('p', { class: 'thread-count', 'aria-live': 'polite' });
  const replies = h('ol', { class: 'msgs thread-replies', 'aria-label': 'Replies' });
  const status = h('p', { class: 'muted center' }, 'Loading replies…');
  const moreBtn = h('button', { type: 'button', class: 'link older', hidden: true, onclick: () => loadMore() }, 'Load more replies');
  const scroller = h('div', { class: 'scroller thread-scroller' }, rootList, countLine, status, replies, moreBtn);
  const closeBtn = h('button', {
    type: 'button', class: 'icon thread-close', 'aria-label': 'Close thread', title: 'Close thread (Esc)', onclick: () => onClose(),
  }, h('span', { class: 'glyph-x' }, icon('close')), h('span', { class: 'glyph-back' }, icon('back')));
  const panel = h('section', { class: 'thread', role: 'region', 'aria-labelledby': titleId },
    h('header', { class: 'room-head thread-head' },
      h('div', { class: 'grow' }, h('h2', { id: titleId }, 'Thread'), where), closeBtn),
    scroller);
  host.replaceChildren(panel);
  const composer = mountComposer(panel, roomId, { replyTo: rootId, label: 'Reply in thread', placeholder: 'Reply…' });

  const rootKit = kitFor({ rerender: () => render() });
  const kit = kitFor({ rerender: () => render() });
  let firstRender = true;
  let pendingCount = 0;

  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    e.preventDefault(); // Esc closes the thread, not the Chatbox
    onClose();
  });

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;

  function render() {
    const room = store.state.rooms.get(roomId);
    where.textContent = room ? store.roomName(room) : '';
    const r = store.findMessage(roomId, rootId) || (root.author ? root : null);
    rootKit.reconcile(rootList, (take) => {
      if (r) take(r.id, rootKit.version(r), () => rootKit.node(r, false));
    });
    const t = store.threadOf(rootId);
    if (!t?.loaded) return;
    const atBottom = nearBottom();
    const confirmed = new Set(t.list.map((m) => m.client_id).filter(Boolean));
    const pending = store.pendingReplies(rootId).filter((o) => !confirmed.has(o.client_id));
    const n = Math.max(t.list.length, r?.thread?.reply_count || 0);
    countLine.textContent = n === 1 ? '1 reply' : n ? `${n} replies` : '';
    status.hidden = t.list.length + pending.length > 0;
    status.textContent = 'No replies yet. Start the thread below.';
    moreBtn.hidden = !t.hasMore;
    kit.reconcile(replies, (take) => {
      for (const m of t.list) take(m.id, kit.version(m), () => kit.node(m, false));
      const me = store.user(store.state.me.id) || store.state.me;
      for (const o of pending) {
        const m = { ...o, author: me };
        take(`c:${o.client_id}`, `${o.status}|${o.error}|${store.state.connection}`, () => kit.node(m, true));
      }
    });
    if ((firstRender && !t.hasMore) || atBottom || pending.length > pendingCount) scroller.scrollTop = scroller.scrollHeight;
    firstRender = false;
    pendingCount = pending.length;
    markRead();
  }

  function markRead() {
    const t = store.threadOf(rootId);
    const newest = t?.list[t.list.length - 1];
    if (newest && store.isReading(roomId)) store.markThreadRead(roomId, newest.id);
  }

  async function load() {
    firstRender = true;
    status.hidden = false;
    status.textContent = 'Loading replies…';
    try {
      await store.loadThread(roomId, rootId);
    } catch (err) {
      status.textContent = err.status === 404 ? 'This thread is not available.' : `Could not load the replies: ${err.message}`;
    }
  }

  async function loadMore() {
    try { await store.loadMoreReplies(rootId); } catch (err) { status.hidden = false; status.textContent = err.message; }
  }

  const offs = [
    store.on('thread', (id) => { if (id === rootId) render(); }),
    store.on('messages', (rid) => { if (rid === roomId) render(); }),
    store.on('saved', () => render()),
    store.on('conn', () => render()),
    store.on('reset', () => load()),
  ];
  render();
  load();

  return {
    rootId,
    focus: () => composer.focus(),
    markReadIfVisible: markRead,
    destroy() {
      offs.forEach((off) => off());
      rootKit.destroy();
      kit.destroy();
      store.forgetThread(rootId);
    },
  };
}
