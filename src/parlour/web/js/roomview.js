// One room: header (with group/channel management, the topic and my notification level), the
// message log, the typing line and the composer.
// The log is reconciled, not rebuilt: nodes of unchanged messages stay in place, which keeps the
// scroll position, the focus and an open edit box intact while events stream in.

import { h, nextId, avatar, botBadge, fmtTime, fmtDay, fmtSize, STATUS_LABEL, fmtWhen, continuesRun } from './dom.js';
import { icon } from './icons.js';
import { roomAvatar } from './roomlist.js';
import { api, del, patch, post } from './api.js';
import * as store from './store.js';
import { mountComposer } from './composer.js';
import { attachSuggestions, searchPeople, personLabel, openHistory, TOPIC_CHARS } from './dialogs.js';
import { toast } from './popups.js';
import { openEmojiPicker } from './emoji.js';
import { react, reactionChips, setPinned, setSaved } from './reactions.js';
import { mountPins } from './pins.js';
import { mountThread } from './thread.js';
import * as receipts from './receipts.js';
import { markMentions } from './msgtext.js';
import { previewCards } from './previews.js';
import { webhookSection } from './roomhooks.js';

const enc = encodeURIComponent;
// Touch screens have no hover: a tap on a message focuses it, which shows its actions.
const noHover = window.matchMedia('(hover: none)');

/**
 * Turns a message's text into an edit box inside `slot`: Enter saves (PATCH), Esc cancels.
 * onClose(saved, updatedMessage) runs after either; shared by the room view and the Chat Messages page.
 */
export function startEdit(slot, m, onClose) {
  const saved = [...slot.childNodes];
  const box = h('textarea', { class: 'edit-box', 'aria-label': 'Edit message', rows: '3' });
  box.value = m.content;
  const err = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const close = (ok, updated) => { slot.replaceChildren(...saved); onClose(ok, updated); };
  box.addEventListener('keydown', async (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation(); // Esc cancels the edit, it does not close the Chatbox
      close(false);
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      const content = box.value.trim();
      if (!content) { err.textContent = 'A message cannot be empty; use Delete instead.'; return; }
      if (content === m.content) { close(false); return; }
      box.disabled = true;
      try {
        const updated = await patch(`/messages/${enc(m.id)}`, { content });
        if (updated?.id) store.applyEvent({ type: 'message.updated', message: updated });
        close(true, updated?.id ? updated : { ...m, content, edited_at: new Date().toISOString() });
      } catch (ex) {
        err.textContent = ex.message;
        box.disabled = false;
        box.focus();
      }
    }
  });
  slot.replaceChildren(box, h('p', { class: 'hint' }, 'Enter to save · Shift+Enter for a new line · Esc to cancel'), err);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

export async function deleteMessage(m) {
  if (!window.confirm('Delete this message?')) return;
  try {
    await del(`/messages/${enc(m.id)}`);
    // Show it at once; the message.deleted event will say the same.
    store.applyEvent({
      type: 'message.deleted',
      message: { ...m, deleted: true, content: '', html: '', attachments: [], reactions: [], pinned: false },
    });
  } catch (err) {
    toast(err.message);
  }
}

function attachmentList(atts) {
  if (!atts?.length) return null;
  return h('ul', { class: 'atts' }, atts.map((a) => h('li', {},
    a.url && a.content_type?.startsWith('image/')
      ? h('a', { href: a.url, target: '_blank', rel: 'noopener' },
        h('img', { src: a.url, alt: a.filename, loading: 'lazy' }))
      : a.url
        ? h('a', { class: 'att-file', href: a.url, download: a.filename }, icon('file'), ` ${a.filename}`, h('span', { class: 'muted' }, ` (${fmtSize(a.size || 0)})`))
        : h('span', { class: 'att-file' }, icon('file'), ` ${a.filename}`))));
}

/** Message body: the server-sanitized html (never `content`, which is raw user text). */
export function messageBody(m) {
  if (m.deleted) return h('p', { class: 'muted deleted-note' }, 'This message was deleted.'); // one line (app.css)
  const body = h('div', { class: 'body' });
  body.innerHTML = m.html || '';
  markMentions(body, store.state.me?.id); // mentions of me stand out (msgtext.js)
  return body;
}

/**
 * The message items of one room, shared by its log and its Thread panel: each message's node with
 * its actions, and the reconciliation of a list of them (nodes of unchanged messages stay in place,
 * which keeps focus, selection and an open edit box). opts: rerender() after an edit closes;
 * onReply(m) adds Reply; onOpenThread(m) shows a root's "N replies" summary.
 */
export function messageKit(roomId, { rerender, onReply = null, onOpenThread = null }) {
  let cache = new Map(); // key -> {version, node}
  let editingId = null;
  let closePicker = null;

  function version(m) {
    const room = store.state.rooms.get(roomId);
    const adminKey = room && store.isAdmin(room) ? 'a' : '';
    const marks = `${m.pinned}|${store.isSaved(m.id)}|${JSON.stringify(m.reactions || [])}|${JSON.stringify(m.thread || null)}`;
    const pic = (m.author && (store.user(m.author.id) || m.author).avatar_url) || '';
    const extras = `${m.label || ''}|${JSON.stringify(m.previews || [])}`; // a label, previews arriving later
    return `${m.edited_at}|${m.deleted}|${m.html}|${adminKey}|${marks}|${pic}|${extras}`;
  }

  /**
   * A membership line ("Ada Lovelace added Grace Hopper · 10:42"): centered, muted, no actions, never
   * grouped. `content` is a plain sentence without the author, shown as text.
   */
  function systemNode(m) {
    return h('li', { class: 'msg system', 'data-id': m.id || '' },
      h('p', { class: 'system-line' },
        h('span', { class: 'author' }, m.author?.full_name || 'Someone'), ' ', h('span', { class: 'system-text' }, m.content || ''),
        h('span', { 'aria-hidden': 'true' }, ' · '),
        h('time', { datetime: m.created_at, title: new Date(m.created_at).toLocaleString() }, fmtTime(m.created_at))));
  }

  /** grouped: m continues the previous message's run (same person, within 5 minutes): no header. */
  function messageNode(m, pending, grouped = false) {
    if (m.system && !pending) return systemNode(m);
    const room = store.state.rooms.get(roomId);
    const mine = m.author?.id === store.state.me.id;
    const slot = h('div', { class: 'msg-body' }, pending ? h('div', { class: 'body pre' }, m.content) : messageBody(m),
      attachmentList(m.attachments), pending ? null : previewCards(m));
    const actions = h('div', { class: 'msg-actions' });
    let tools = null;
    if (pending) {
      actions.append(m.status === 'failed'
        ? h('span', { class: 'field-error' }, `Not sent: ${m.error || 'error'} `,
          h('button', { type: 'button', class: 'small', onclick: () => store.setOutboxStatus(m.client_id, 'pending') }, 'Retry'),
          h('button', { type: 'button', class: 'small', onclick: () => store.settleOutbox(m.client_id) }, 'Discard'))
        : h('span', { class: 'muted' }, store.state.connection === 'connected' ? 'Sending…' : 'Waiting for connection…'));
    } else if (!m.deleted) {
      tools = messageTools(m, slot, mine || (room?.type !== 'direct' && store.isAdmin(room)));
    }
    const saved = !pending && store.isSaved(m.id);
    const author = m.author ? store.user(m.author.id) || m.author : null;
    const time = h('time', { datetime: m.created_at, title: new Date(m.created_at).toLocaleString() }, fmtTime(m.created_at));
    const marks = [
      m.edited_at && !m.deleted ? [' ', h('span', { class: 'muted' }, '(edited)'), ' ',
        h('button', { type: 'button', class: 'link small', onclick: () => openHistory(m.id) }, 'history')] : null,
      m.pinned && !m.deleted ? [' ', h('span', { class: 'mark pin-mark' }, icon('pin', { filled: true }), 'Pinned')] : null,
      saved && !m.deleted ? [' ', h('span', { class: 'mark save-mark' }, icon('bookmark', { filled: true }), 'Saved')] : null,
    ];
    // A continued run shows no avatar or name; its time sits in the gutter, shown on hover/focus.
    const head = grouped
      ? [h('span', { class: 'gutter-time' }, time), marks.some(Boolean) ? h('div', { class: 'msg-head' }, marks) : null]
      : [h('div', { class: 'msg-head' }, authorName(m, author), ' ', time, marks)];
    return h('li', {
      class: `msg${mine ? ' mine' : ''}${grouped ? ' grouped' : ''}${pending ? ' pending' : ''}${m.deleted ? ' deleted' : ''}${m.pinned && !m.deleted ? ' pinned' : ''}`,
      'data-id': m.id || '', tabindex: noHover.matches && tools ? '-1' : null,
    },
    // A webhook post under a label: the label's initials (the bot's picture if it has one).
    grouped ? null : avatar(m.label && !author?.avatar_url ? m.label : author || '?'),
    h('div', { class: 'msg-main' },
      head,
      slot, reactionChips(m), pending ? null : threadSummary(m), actions),
    tools);
  }

  /**
   * The name over a message: its author's, with BOT for a bot; an incoming webhook's post shows
   * its label (Slack's `username`) instead, still marked BOT (the author is the webhook's bot).
   */
  function authorName(m, author) {
    const bot = m.label ? { is_bot: true } : author || m.author;
    return [h('span', { class: 'author', title: m.label ? `${m.label} (via ${m.author?.full_name || 'a webhook'})` : null },
      m.label || m.author?.full_name || 'Unknown'), botBadge(bot)];
  }

  /** "2 replies" under a root: who took part (initials, names for screen readers) and when. */
  function threadSummary(m) {
    const t = m.thread;
    if (!onOpenThread || m.reply_to || !t?.reply_count) return null;
    const ids = t.participant_ids || [];
    const people = ids.map((id) => store.user(id)?.full_name || 'Someone');
    const n = t.reply_count;
    const mini = (id, name) => {
      const el = avatar(store.user(id) || name);
      el.classList.add('mini');
      el.title = name;
      return el;
    };
    return h('div', { class: 'thread-sum' },
      h('span', { class: 'thread-people', 'aria-hidden': 'true' },
        people.slice(0, 4).map((name, i) => mini(ids[i], name)),
        people.length > 4 ? h('span', { class: 'more muted' }, `+${people.length - 4}`) : null),
      h('button', { type: 'button', class: 'link thread-link', 'data-fk': 'thread', onclick: () => onOpenThread(m) },
        n === 1 ? '1 reply' : `${n} replies`),
      t.last_reply_at ? h('time', { class: 'muted', datetime: t.last_reply_at, title: new Date(t.last_reply_at).toLocaleString() },
        `Last reply ${fmtWhen(t.last_reply_at)}`) : null,
      people.length ? h('span', { class: 'sr-only' }, ` From ${people.join(', ')}.`) : null);
  }

  /**
   * The actions of a settled message: Reply, React, Pin/Unpin, Save/Unsave, Edit, Delete. Real
   * buttons, always in the page (screen readers and Tab reach them); shown on hover or keyboard
   * focus. data-fk names each one, so focus finds its way back after the message is re-rendered.
   */
  function messageTools(m, slot, canDelete) {
    const mine = m.author?.id === store.state.me.id;
    const saved = store.isSaved(m.id);
    const tool = (label, glyph, fk, onclick, extra = {}) => h('button', {
      type: 'button', class: `tool tool-${fk}`, 'aria-label': label, title: label, 'data-fk': fk, onclick, ...extra,
    }, glyph);
    return h('div', { class: 'msg-tools' },
      onReply && !m.reply_to ? tool('Reply', icon('reply'), 'reply', () => onReply(m)) : null,
      tool('React', icon('smile'), 'react', (e) => pickReaction(m, e.currentTarget), { 'aria-haspopup': 'dialog' }),
      tool(m.pinned ? 'Unpin' : 'Pin', icon('pin', { filled: m.pinned }), 'pin', () => setPinned(m, !m.pinned), { class: `tool tool-pin${m.pinned ? ' on' : ''}` }),
      tool(saved ? 'Unsave' : 'Save', icon('bookmark', { filled: saved }), 'save', () => setSaved(m, !saved), { class: `tool tool-save${saved ? ' on' : ''}` }),
      mine ? tool('Edit', icon('edit'), 'edit', () => {
        editingId = m.id;
        startEdit(slot, m, () => { editingId = null; cache.delete(m.id); rerender(); cache.get(m.id)?.node.querySelector('[data-fk=edit]')?.focus(); });
      }) : null,
      canDelete ? tool('Delete', icon('trash'), 'delete', () => deleteMessage(m)) : null);
  }

  function pickReaction(m, button) {
    closePicker?.();
    const node = button.closest('li.msg');
    node?.classList.add('picking');
    closePicker = openEmojiPicker(button, {
      onPick: (emoji) => react(store.findMessage(roomId, m.id) || m, emoji, true),
      onClose: () => {
        closePicker = null;
        node?.classList.remove('picking');
        // The message may have been re-rendered meanwhile: focus its React button again.
        cache.get(m.id)?.node.querySelector('[data-fk=react]')?.focus();
      },
    });
  }

  /**
   * Puts into `list` the nodes that fill(take) asks for: take(key, version, build) reuses the
   * node of `key` while its version is unchanged (or while it is being edited). Returns the count.
   */
  function reconcile(list, fill) {
    const next = new Map();
    const nodes = [];
    let refocus = null; // [new node, data-fk] when the focus was inside a node being replaced
    fill((key, ver, build) => {
      let c = cache.get(key);
      if (!c || (c.version !== ver && editingId !== key)) {
        const old = c?.node;
        c = { version: ver, node: build() };
        if (old?.contains(document.activeElement)) refocus = [c.node, /** @type {HTMLElement} */ (document.activeElement).dataset.fk];
      }
      next.set(key, c);
      nodes.push(c.node);
    });
    cache = next;
    // Move only what is out of place, so untouched nodes keep focus and selection.
    nodes.forEach((node, i) => { if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null); });
    while (list.children.length > nodes.length) list.lastElementChild.remove();
    if (refocus) {
      const [node, fk] = refocus;
      const same = fk && node.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
      (same || node.querySelector('[data-fk=react]') || (node.hasAttribute('tabindex') ? node : null))?.focus({ preventScroll: true });
    }
    return nodes.length;
  }

  return {
    node: messageNode,
    version,
    reconcile,
    nodeOf: (key) => cache.get(key)?.node || null,
    reset() { cache = new Map(); },
    destroy() { closePicker?.(); },
  };
}

export function mountRoomView(container, roomId, { onBack, onLeft }) {
  const titleId = nextId('room-title');
  const title = h('h2', { id: titleId });
  const sub = h('p', { class: 'sub muted' });
  const headAvatar = h('span');
  const manageBtn = h('button', { type: 'button', class: 'manage-btn', 'aria-expanded': 'false', hidden: true, onclick: toggleManage },
    icon('sliders'), h('span', { class: 'label' }, 'Manage'));
  const manage = h('div', { class: 'manage', id: nextId('manage'), hidden: true });
  manageBtn.setAttribute('aria-controls', manage.id);
  const pinsPanel = h('section', { class: 'manage pins-panel', id: nextId('pins-panel'), hidden: true });
  const pinsBtn = h('button', {
    type: 'button', class: 'pins-btn', 'aria-expanded': 'false', 'aria-controls': pinsPanel.id, onclick: () => togglePins(),
  }, icon('pin'), h('span', { class: 'label' }, 'Pinned'));
  const notifyPanel = h('section', { class: 'manage notify-panel', id: nextId('notify-panel'), hidden: true });
  // Named "Notifications"; it shows the level (a bell, crossed out at None, and the level's name).
  const notifyIcon = h('span', { class: 'bell', 'aria-hidden': 'true' });
  const notifyLabel = h('span', { class: 'label', 'aria-hidden': 'true' });
  const notifyBtn = h('button', {
    type: 'button', class: 'notify-btn', 'aria-label': 'Notifications', 'aria-expanded': 'false',
    'aria-controls': notifyPanel.id, onclick: () => togglePanel('notify'),
  }, notifyIcon, notifyLabel);
  const olderBtn = h('button', { type: 'button', class: 'link older', hidden: true, onclick: () => loadOlder() }, 'Load older messages');
  const list = h('ol', { class: 'msgs' });
  const status = h('p', { class: 'muted center' }, 'Loading messages…');
  const scroller = h('div', { class: 'scroller', role: 'log', 'aria-labelledby': titleId, tabindex: '0' }, olderBtn, status, list);
  // Shown while scrolled up: how many new messages are below (they stay unread until seen).
  const jumpCountId = nextId('jump-count');
  const jumpCount = h('span', { class: 'jump-count', id: jumpCountId });
  const jumpBtn = h('button', {
    type: 'button', class: 'jump-latest', 'aria-label': 'Jump to latest', 'aria-describedby': jumpCountId,
    hidden: true, onclick: () => jumpToLatest(),
  }, icon('down'), h('span', { 'aria-hidden': 'true' }, 'Jump to latest'), jumpCount);
  // The toolbar's indicator is out of sight under a phone's full-screen Chatbox: say it here too.
  const connBanner = h('p', { class: 'conn-banner', hidden: true });
  const logWrap = h('div', { class: 'log-wrap' }, connBanner, scroller, jumpBtn);
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const section = h('section', { class: 'room', 'aria-labelledby': titleId },
    h('header', { class: 'room-head' },
      h('button', { type: 'button', class: 'icon back', 'aria-label': 'Back', title: 'Back', onclick: onBack }, icon('back')),
      headAvatar, h('div', { class: 'grow' }, title, sub), notifyBtn, pinsBtn, manageBtn),
    manage, pinsPanel, notifyPanel, logWrap, typing);
  container.replaceChildren(section);
  const composer = mountComposer(section, roomId);
  const pins = mountPins(pinsPanel, roomId, {
    onJump: (id, m) => {
      togglePins(false);
      if (m?.reply_to) openThread({ id: m.reply_to, room_id: roomId }); else focusMessage(id);
    },
  });

  // ---- the Thread panel: beside the room on a desktop (the Chatbox widens), over it on a phone --

  function openThread(root) {
    if (thread?.rootId === root.id) { thread.focus(); return; }
    closeThread(false);
    const host = h('div', { class: 'thread-host' });
    container.append(host);
    container.classList.add('with-thread');
    container.closest('.chatbox')?.classList.add('has-thread');
    thread = mountThread(host, roomId, root, {
      kitFor: (opts) => messageKit(roomId, opts),
      onClose: () => closeThread(true),
    });
    thread.focus();
  }

  function closeThread(refocus) {
    if (!thread) return;
    const { rootId } = thread;
    thread.destroy();
    thread = null;
    container.querySelector(':scope > .thread-host')?.remove();
    container.classList.remove('with-thread');
    container.closest('.chatbox')?.classList.remove('has-thread');
    if (refocus) (kit.nodeOf(rootId)?.querySelector('[data-fk=thread]') || composer.textarea).focus();
  }

  const kit = messageKit(roomId, { rerender: () => renderList(), onReply: openThread, onOpenThread: openThread });
  let thread = null; // the open Thread panel
  let keepAnchor = false;
  let firstRender = true;
  let markOnLoad = true; // opening a room reads what it shows, even if the window focus is uncertain
  let dividerBefore = null; // id of the first message unread when the room opened ("New" above it)
  let opened = null; // {pointer, unread, newest, final, pages}: what was unread as the room opened
  let followDivider = false; // the view sits on a "New" divider that moves up as older pages load
  let pendingCount = 0;
  const offs = [];

  // ---- header & group management ---------------------------------------------------------------

  function renderHeader() {
    const room = store.state.rooms.get(roomId);
    if (!room) return;
    title.textContent = store.roomName(room);
    headAvatar.replaceChildren(roomAvatar(room));
    const count = `${room.members.length} member${room.members.length === 1 ? '' : 's'}`;
    if (room.type === 'direct') {
      const other = store.otherMember(room);
      const st = STATUS_LABEL[other?.status] || '';
      sub.textContent = other?.status === 'offline' && other.last_seen_at ? `${st} · last seen ${fmtWhen(other.last_seen_at)}` : st;
    } else if (room.type === 'channel') {
      // The topic beside the member count; the whole topic on hover (it may be cut off).
      const key = `${count}\n${room.topic || ''}`;
      if (sub.dataset.key !== key) { // unchanged: keep the nodes (and a focused "Add a topic")
        sub.dataset.key = key;
        // The topic first: it says more than the count when the line is cut short (on a phone).
        sub.replaceChildren(room.topic
          ? h('span', { class: 'topic', title: room.topic }, room.topic)
          : h('button', { type: 'button', class: 'link', onclick: editTopic }, 'Add a topic'), ' · ', h('span', {}, count));
      }
    } else {
      sub.textContent = count;
    }
    manageBtn.hidden = room.type === 'direct';
    renderNotifyButton(room);
    if (!manage.hidden) renderManage();
    if (!notifyPanel.hidden) renderNotify();
  }

  const memberList = h('ul', { class: 'members' });
  const manageError = h('p', { class: 'field-error', 'aria-live': 'polite' });

  // The panels under the header (Manage, Pinned, Notifications): one at a time, so the log keeps
  // its room on a phone.
  const panels = {
    manage: { btn: manageBtn, el: manage, onOpen: () => buildManage() },
    pins: { btn: pinsBtn, el: pinsPanel, onOpen: () => pins.show(), onClose: () => pins.hide() },
    notify: { btn: notifyBtn, el: notifyPanel, onOpen: () => buildNotify() },
  };

  function togglePanel(name, force) {
    const p = panels[name];
    const open = force ?? p.el.hidden;
    if (open === !p.el.hidden) return;
    if (open) Object.keys(panels).forEach((other) => { if (other !== name) togglePanel(other, false); });
    p.el.hidden = !open;
    p.btn.setAttribute('aria-expanded', String(open));
    if (open) p.onOpen?.(); else p.onClose?.();
  }

  function toggleManage() { togglePanel('manage'); }
  function togglePins(force) { togglePanel('pins', force); }

  // ---- notification level -----------------------------------------------------------------------

  const LEVELS = [
    ['all', 'All', 'A pop-up and a sound for every new message.'],
    ['mentions', 'Mentions', 'Only when someone mentions you. Other messages still count as unread.'],
    ['none', 'None', 'No pop-ups or sounds, and this conversation is left out of the Chat badge. Its own unread count still shows in the list.'],
  ];
  const LEVEL_ICON = { all: 'bell', mentions: 'at', none: 'bell-off' };
  const LEVEL_SHORT = { all: 'All', mentions: 'Mentions', none: 'Off' };
  const LEVEL_TITLE = { all: 'Notifications: all messages', mentions: 'Notifications: mentions only', none: 'Notifications: off' };
  const radioName = nextId('notify');
  const notifyNote = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const radios = new Map();

  function renderNotifyButton(room) {
    const level = store.notifyLevel(room);
    notifyIcon.replaceChildren(icon(LEVEL_ICON[level]));
    notifyLabel.textContent = LEVEL_SHORT[level];
    notifyBtn.title = LEVEL_TITLE[level];
    notifyBtn.dataset.level = level;
  }

  function buildNotify() {
    const room = store.state.rooms.get(roomId);
    const legendId = nextId('notify-legend');
    radios.clear();
    notifyNote.textContent = '';
    const choices = LEVELS.map(([value, label, help]) => {
      const helpId = nextId('notify-help');
      const input = h('input', {
        type: 'radio', name: radioName, value, 'aria-describedby': helpId, onchange: () => setLevel(value),
      });
      radios.set(value, input);
      return h('div', { class: 'level' },
        h('label', { class: 'choice' }, input, h('span', { class: 'level-name' }, label)),
        h('p', { class: 'hint', id: helpId }, help));
    });
    const dflt = room?.type === 'channel' ? 'Mentions' : 'All';
    notifyPanel.replaceChildren(h('fieldset', { class: 'levels', role: 'radiogroup', 'aria-labelledby': legendId },
      h('legend', { id: legendId }, 'Notifications'),
      h('p', { class: 'hint' }, `For this ${room?.type === 'direct' ? 'conversation' : room?.type || 'conversation'} only; the default is ${dflt}. Your other devices follow.`),
      choices), notifyNote);
    renderNotify();
    radios.get(store.notifyLevel(room))?.focus();
  }

  function renderNotify() {
    const level = store.notifyLevel(store.state.rooms.get(roomId));
    for (const [value, input] of radios) input.checked = value === level;
  }

  notifyPanel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault(); // Esc closes the panel, not the Chatbox
    togglePanel('notify', false);
    notifyBtn.focus();
  });

  async function setLevel(level) {
    const room = store.state.rooms.get(roomId);
    if (!room) return;
    const before = store.notifyLevel(room);
    if (before === level) return;
    notifyNote.textContent = '';
    store.setNotify(roomId, level); // shown at once; undone if the server refuses
    try {
      const updated = await patch(`/rooms/${enc(roomId)}/settings`, { notify: level });
      if (updated?.id) store.upsertRoom(updated);
    } catch (err) {
      store.setNotify(roomId, before);
      notifyNote.textContent = `Not changed: ${err.message}`;
    }
  }

  // ---- group & channel management ---------------------------------------------------------------

  const topicId = nextId('topic');
  const topicInput = h('input', { id: topicId, type: 'text', maxlength: String(TOPIC_CHARS), placeholder: 'What is this channel about?' });
  const topicNote = h('p', { class: 'hint', 'aria-live': 'polite' });

  function editTopic() {
    togglePanel('manage', true);
    topicInput.focus();
  }

  async function saveTopic(e) {
    e.preventDefault();
    const topic = topicInput.value.trim();
    topicNote.textContent = '';
    manageError.textContent = '';
    if (topic.length > TOPIC_CHARS) { manageError.textContent = `A topic is at most ${TOPIC_CHARS} characters.`; return; }
    try {
      store.upsertRoom(await patch(`/rooms/${enc(roomId)}`, { topic }));
      topicNote.textContent = topic ? 'Topic saved.' : 'Topic cleared.';
    } catch (err) { manageError.textContent = err.message; }
  }

  function buildManage() {
    const room = store.state.rooms.get(roomId);
    const admin = store.isAdmin(room);
    const isChannel = room.type === 'channel';
    const parts = [];
    manageError.textContent = '';
    topicNote.textContent = '';
    if (isChannel) {
      // Any member of a channel sets its topic.
      topicInput.value = room.topic || '';
      parts.push(h('form', { class: 'inline', onsubmit: saveTopic },
        h('label', { for: topicId }, 'Topic'), topicInput, h('button', { type: 'submit' }, 'Set topic')), topicNote);
    }
    if (admin) {
      const nameId = nextId('rename');
      const nameInput = h('input', { id: nameId, type: 'text', value: room.name || '', maxlength: '200' });
      parts.push(h('form', {
        class: 'inline', onsubmit: async (e) => {
          e.preventDefault();
          const name = nameInput.value.trim();
          if (!name) { manageError.textContent = 'Enter a name.'; return; }
          try { store.upsertRoom(await patch(`/rooms/${enc(roomId)}`, { name })); manageError.textContent = ''; } catch (err) { manageError.textContent = err.message; }
        },
      }, h('label', { for: nameId }, isChannel ? 'Channel name' : 'Room name'), nameInput, h('button', { type: 'submit' }, 'Rename')));
    }
    if (admin || isChannel) { // anyone in a channel may bring people in; in a group, its admins
      const addId = nextId('add');
      const addInput = h('input', { id: addId, type: 'text', placeholder: 'Name or email' });
      const sug = attachSuggestions(addInput, {
        source: () => searchPeople(addInput.value, new Set(store.state.rooms.get(roomId).members.map((u) => u.id))),
        label: personLabel,
        onPick: async (u) => {
          addInput.value = '';
          try { store.upsertRoom(await post(`/rooms/${enc(roomId)}/members`, { user_ids: [u.id] })); } catch (err) { manageError.textContent = err.message; }
        },
      });
      parts.push(h('div', { class: 'inline' }, h('label', { for: addId }, 'Add people'), addInput, sug.list));
    }
    parts.push(h('h3', {}, 'People'), memberList, manageError);
    if (admin) parts.push(webhookSection(roomId)); // incoming webhooks: the room's admins (roomhooks.js)
    parts.push(h('button', { type: 'button', class: 'danger leave-btn', onclick: leave }, 'Leave'));
    manage.replaceChildren(...parts);
    renderMembers();
  }

  /** A room event while Manage is open: members again, and the topic unless being edited. */
  function renderManage() {
    const room = store.state.rooms.get(roomId);
    if (room?.type === 'channel' && document.activeElement !== topicInput) topicInput.value = room.topic || '';
    renderMembers();
  }

  function renderMembers() {
    const room = store.state.rooms.get(roomId);
    if (!room) return;
    const admin = store.isAdmin(room);
    const active = /** @type {HTMLElement | null} */ (document.activeElement);
    const focused = active && memberList.contains(active) ? [active.closest('li')?.dataset.user, active.dataset.fk] : null;
    memberList.replaceChildren(...room.members.map((u) => {
      const nameId = nextId('member');
      const isAdminMember = room.admins?.includes(u.id);
      const me = u.id === store.state.me.id;
      return h('li', { 'data-user': u.id },
        avatar(store.user(u.id) || u, u.status),
        h('span', { class: 'grow', id: nameId }, u.full_name, botBadge(store.user(u.id) || u), me ? h('span', { class: 'muted' }, ' (you)') : null),
        isAdminMember ? h('span', { class: 'tag' }, 'admin') : null,
        // Group and channel admins: Make admin / Remove admin (the last admin cannot step down: 422).
        admin ? h('button', {
          type: 'button', class: 'small', 'aria-describedby': nameId, 'data-fk': 'admin',
          onclick: () => setMemberAdmin(u, !isAdminMember),
        }, isAdminMember ? 'Remove admin' : 'Make admin') : null,
        admin && !me
          ? h('button', { type: 'button', class: 'small', 'aria-label': `Remove ${u.full_name}`, 'data-fk': 'remove', onclick: () => removeMember(u) }, 'Remove')
          : null);
    }));
    if (focused?.[0]) {
      const li = memberList.querySelector(`li[data-user="${CSS.escape(focused[0])}"]`);
      const same = /** @type {HTMLButtonElement | null} */ (li?.querySelector(`button[data-fk="${CSS.escape(focused[1] || '')}"]`));
      (same || li?.querySelector('button'))?.focus();
    }
  }

  async function setMemberAdmin(u, makeAdmin) {
    manageError.textContent = '';
    try {
      const path = `/rooms/${enc(roomId)}/admins/${enc(u.id)}`;
      const updated = makeAdmin ? await api('PUT', path) : await del(path);
      if (updated?.id) store.upsertRoom(updated);
    } catch (err) {
      manageError.textContent = err.code === 'last_admin'
        ? 'A group needs at least one admin: make someone else admin first.' : err.message;
    }
  }

  async function removeMember(u) {
    try {
      await del(`/rooms/${enc(roomId)}/members/${enc(u.id)}`);
      const room = store.state.rooms.get(roomId);
      store.upsertRoom({ ...room, members: room.members.filter((x) => x.id !== u.id) });
    } catch (err) { manageError.textContent = err.message; }
  }

  async function leave() {
    const isChannel = store.state.rooms.get(roomId)?.type === 'channel';
    const question = isChannel
      ? 'Leave this channel? You can join it again from Browse channels.'
      : 'Leave this group? You will no longer see its messages.';
    if (!window.confirm(question)) return;
    try {
      await del(`/rooms/${enc(roomId)}/members/${enc(store.state.me.id)}`);
      store.removeRoom(roomId); // also triggers onLeft through 'room:removed'
    } catch (err) { manageError.textContent = err.message; }
  }

  function daySeparator(iso) {
    return h('li', { class: 'day', role: 'presentation' }, h('span', {}, fmtDay(iso)));
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function renderList() {
    const b = store.bucketOf(roomId);
    if (!b?.loaded) return;
    const confirmed = new Set(b.list.map((m) => m.client_id).filter(Boolean));
    const pending = store.pendingFor(roomId).filter((o) => !confirmed.has(o.client_id));
    const atBottom = nearBottom();
    const prevHeight = scroller.scrollHeight;
    const prevTop = scroller.scrollTop;
    if (firstRender || (opened && !opened.final)) dividerBefore = firstUnread(b);
    const count = kit.reconcile(list, (take) => {
      let lastDay = '';
      let prev = null; // the message above, for grouping runs (a day or the New divider breaks one)
      for (const m of b.list) {
        const day = new Date(m.created_at).toDateString();
        if (day !== lastDay) { lastDay = day; prev = null; take(`d:${day}`, fmtDay(m.created_at), () => daySeparator(m.created_at)); }
        if (m.id === dividerBefore) { prev = null; take('new-divider', 'new', newDivider); }
        const grouped = continuesRun(prev, m);
        take(m.id, `${kit.version(m)}|${grouped}`, () => kit.node(m, false, grouped));
        prev = m;
      }
      const me = store.user(store.state.me.id) || store.state.me;
      for (const o of pending) {
        const m = { ...o, author: me };
        const grouped = continuesRun(prev, m);
        take(`c:${o.client_id}`, `${o.status}|${o.error}|${store.state.connection}|${grouped}`, () => kit.node(m, true, grouped));
        prev = m;
      }
    });
    status.hidden = count > 0;
    status.textContent = 'No messages yet. Say hello!';
    olderBtn.hidden = !b.hasMore;
    if (keepAnchor) {
      // Still looking for where I left off (older pages load): stay on the divider as it moves up.
      if (!(followDivider && startAtDivider())) scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
      keepAnchor = false;
      if (followDivider && ++opened.pages >= 4) opened.final = true;
    } else if (firstRender && dividerBefore && startAtDivider()) {
      // Many unread: start where I left off, not at the very bottom.
      followDivider = !opened.final;
    } else if (firstRender || atBottom || pending.length > pendingCount) {
      scroller.scrollTop = scroller.scrollHeight;
    }
    firstRender = false;
    if (opened?.final) followDivider = false;
    pendingCount = pending.length;
    readVisible(markOnLoad);
    markOnLoad = false;
    placeReceipt();
  }

  // ---- what has been seen: the "New" divider, reading what is on screen, Jump to latest ---------

  const fromOther = (m) => m.author?.id !== store.state.me.id && !m.deleted;

  /**
   * The first message unread as the room opened: after my read pointer, else the last N from
   * others (N = the unread count then). While that reaches past the loaded pages the divider sits
   * at the top, and moves up as older pages load.
   */
  function firstUnread(b) {
    const msgs = b.list;
    if (!opened) {
      const room = store.state.rooms.get(roomId);
      opened = { pointer: room?.last_read_message_id, unread: room?.unread_count || 0, newest: msgs[msgs.length - 1]?.id, final: false, pages: 0 };
      if (!opened.unread || !msgs.length) opened.final = true;
    }
    if (!opened.unread || !msgs.length) return null;
    const at = opened.pointer ? msgs.findIndex((m) => m.id === opened.pointer) : -1;
    if (at >= 0) {
      opened.final = true;
      return msgs.slice(at + 1).find(fromOther)?.id || null;
    }
    let left = opened.unread;
    const from = msgs.findIndex((m) => m.id === opened.newest);
    for (let i = from < 0 ? msgs.length - 1 : from; i >= 0; i--) {
      if (fromOther(msgs[i]) && --left === 0) { opened.final = true; return msgs[i].id; }
    }
    if (!b.hasMore) opened.final = true;
    return msgs.find(fromOther)?.id || null;
  }

  function newDivider() {
    return h('li', { class: 'unread-divider', role: 'separator', 'aria-label': 'New messages' }, h('span', {}, 'New'));
  }

  /** Scrolls so the "New" divider is near the top if the unread part is taller than the view. */
  function startAtDivider() {
    const node = list.querySelector(':scope > .unread-divider');
    if (!node) return false;
    const offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    const below = scroller.scrollHeight - (scroller.scrollTop + offset);
    if (below <= scroller.clientHeight) return false;
    scroller.scrollTop += offset - 8;
    return true;
  }

  /** The newest settled message whose top part has been inside the log's visible area. */
  function lastVisibleId() {
    const bottom = scroller.getBoundingClientRect().bottom;
    const nodes = /** @type {NodeListOf<HTMLElement>} */ (list.querySelectorAll(':scope > li.msg:not(.pending)'));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const r = nodes[i].getBoundingClientRect();
      if (r.height && r.top + Math.min(r.height, 24) <= bottom) return nodes[i].dataset.id || null;
    }
    return null;
  }

  /** A message counts as read once on screen in a focused, visible window (or as the room opens). */
  function readVisible(force = false) {
    store.setScrolledUp(roomId, !nearBottom());
    if (force || store.isReading(roomId)) {
      const b = store.bucketOf(roomId);
      const newest = b?.list[b.list.length - 1];
      const id = nearBottom() ? newest?.id : lastVisibleId();
      if (id) store.markRead(roomId, id);
    }
    renderJump();
  }

  /** New messages below what has been read (from others). */
  function newBelow() {
    const b = store.bucketOf(roomId);
    const room = store.state.rooms.get(roomId);
    if (!b?.loaded || !room?.unread_count) return 0;
    const at = room.last_read_message_id ? b.list.findIndex((m) => m.id === room.last_read_message_id) : -1;
    const counted = (at >= 0 ? b.list.slice(at + 1) : b.list).filter(fromOther).length;
    return Math.min(counted, room.unread_count);
  }

  function renderJump() {
    const b = store.bucketOf(roomId);
    const n = newBelow();
    const far = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight > Math.max(scroller.clientHeight / 2, 80);
    jumpBtn.hidden = !b?.loaded || nearBottom() || (!n && !far);
    jumpCount.textContent = n ? ` (${n} new)` : '';
    jumpBtn.classList.toggle('has-new', n > 0);
  }

  function jumpToLatest() {
    scroller.scrollTop = scroller.scrollHeight;
    store.setScrolledUp(roomId, false);
    store.markRead(roomId); // a click on it is reading them
    renderJump();
    scroller.focus({ preventScroll: true });
  }

  async function loadOlder() {
    const b = store.bucketOf(roomId);
    if (!b?.hasMore || b.loadingOlder) return;
    keepAnchor = true;
    try { await store.loadOlder(roomId); } catch (err) { keepAnchor = false; toast(err.message); }
  }

  async function loadLatest() {
    firstRender = true;
    markOnLoad = true;
    kit.reset();
    list.replaceChildren();
    status.hidden = false;
    status.textContent = 'Loading messages…';
    try {
      await store.loadLatest(roomId);
    } catch (err) {
      status.textContent = err.status === 404 ? 'This conversation is not available.' : `Could not load messages: ${err.message}`;
    }
  }

  function renderConn() {
    const c = store.state.connection;
    connBanner.hidden = c !== 'reconnecting' && c !== 'offline';
    connBanner.textContent = c === 'offline' ? 'Offline. Log in again to reconnect.'
      : 'Reconnecting… What you send now goes out once the connection is back.';
  }

  function renderTyping() {
    const names = store.typingNames(roomId);
    typing.textContent = !names.length ? ''
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  }

  // A panel opening above the log or attachment chips growing the composer shrink the log from
  // its top: when it showed the newest messages, keep its bottom anchored so they stay in view.
  let pinnedToBottom = true;
  const resizeWatch = new ResizeObserver(() => {
    if (pinnedToBottom && !firstRender) scroller.scrollTop = scroller.scrollHeight;
  });
  resizeWatch.observe(scroller);
  offs.push(() => resizeWatch.disconnect());

  // ---- read receipts (receipts.js): "✓ Sent", "✓✓ Seen" or "Seen by N" under my latest message -----

  let receiptShown = null; // {key, el}
  offs.push(receipts.watch(roomId), receipts.onReceipts((rid) => { if (rid === roomId) placeReceipt(); }),
    store.on('rooms', () => placeReceipt()));

  function placeReceipt() {
    const b = store.bucketOf(roomId);
    const r = b?.loaded ? receipts.receiptFor(store.state.rooms.get(roomId), b.list, store.state.me.id) : null;
    const host = r && kit.nodeOf(r.messageId)?.querySelector('.msg-main');
    const old = receiptShown?.el;
    const hadFocus = !!old?.contains(document.activeElement);
    if (!host) { old?.remove(); receiptShown = null; return; }
    const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    if (receiptShown?.key !== r.key) { old?.remove(); receiptShown = { key: r.key, el: r.el }; }
    if (receiptShown.el.parentNode !== host) host.append(receiptShown.el);
    if (hadFocus && !receiptShown.el.contains(document.activeElement)) receiptShown.el.querySelector('button')?.focus({ preventScroll: true });
    if (gap < 2) scroller.scrollTop = scroller.scrollHeight; // stay at the bottom when the line appears
  }

  let scrollFrame = 0;
  scroller.addEventListener('scroll', () => {
    pinnedToBottom = nearBottom();
    if (scroller.scrollTop < 80) loadOlder();
    if (!scrollFrame) scrollFrame = requestAnimationFrame(() => { scrollFrame = 0; readVisible(); });
  }, { passive: true });

  // Drag and drop anywhere on the room uploads into the composer.
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  section.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); section.classList.add('drop'); } });
  section.addEventListener('dragleave', (e) => { if (!section.contains(/** @type {Node | null} */ (e.relatedTarget))) section.classList.remove('drop'); });
  section.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    section.classList.remove('drop');
    composer.addFiles(e.dataTransfer.files);
  });

  offs.push(
    store.on('messages', (rid) => { if (rid === roomId) renderList(); }),
    store.on('saved', () => renderList()),
    store.on('me', () => renderList()), // my picture or name changed
    store.on('conn', () => { renderConn(); renderList(); }),
    store.on('rooms', () => { renderHeader(); renderJump(); }),
    store.on('presence', renderHeader),
    store.on('typing', (rid) => { if (rid === roomId) renderTyping(); }),
    store.on('reset', loadLatest),
    store.on('room:removed', (rid) => { if (rid === roomId) onLeft(); }),
  );

  /** Scrolls to a message, paging back through history (a bounded number of pages) if needed. */
  async function focusMessage(id) {
    for (let i = 0; i < 20; i++) {
      const b = store.bucketOf(roomId);
      if (b?.loaded && b.byId.has(id)) break;
      if (b?.loaded && !b.hasMore) return;
      if (!b?.loaded) await new Promise((r) => setTimeout(r, 150));
      else await loadOlder();
    }
    const node = kit.nodeOf(id);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    node.classList.add('highlight');
    setTimeout(() => node.classList.remove('highlight'), 2500);
  }

  renderHeader();
  const cached = store.bucketOf(roomId);
  if (cached?.loaded) renderList(); else loadLatest();
  renderTyping();
  renderConn();

  return {
    destroy() {
      offs.forEach((off) => off()); pins.destroy(); kit.destroy(); closeThread(false);
      cancelAnimationFrame(scrollFrame);
      store.setScrolledUp(roomId, false);
    },
    focusComposer: () => composer.focus(),
    markReadIfVisible: () => { readVisible(); thread?.markReadIfVisible(); },
    focusMessage,
  };
}
