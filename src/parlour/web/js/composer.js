// The message box of a room: Enter sends, Shift+Enter breaks the line, @mention suggestions,
// typing notifications, attachments (button, drag-and-drop, paste) uploaded with progress.
// Sending only queues the message in the store's outbox; socket.js delivers it (WebSocket, or
// REST when it carries attachments) and the pending copy shows in the room at once.

import { h, nextId, fmtSize } from './dom.js';
import { icon } from './icons.js';
import { upload } from './api.js';
import * as store from './store.js';
import * as socket from './socket.js';
import { attachSuggestions } from './dialogs.js';

const TYPING_EVERY_MS = 3000;
const MAX_CHARS = 10000;
const DRAFT_SAVE_MS = 400;

// Unsent text per room (and per thread): kept while switching rooms, and in localStorage (keyed by
// user and room) so that a reload or a crash does not lose it. Saved as you type, debounced, and
// at once when the tab is hidden or closed; cleared on send.
const drafts = new Map(); // storage key (parlour.draft.<user>.<room>[.<root>]) -> unsent text
const unsaved = new Set(); // keys typed into since they were last written
let saveTimer = 0;

function readDraft(key) {
  if (!drafts.has(key)) {
    let text = '';
    try { text = localStorage.getItem(key) || ''; } catch { /* storage off */ }
    drafts.set(key, text);
  }
  return drafts.get(key);
}

function saveDrafts() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  for (const key of unsaved) {
    const text = drafts.get(key) || '';
    try {
      if (text.trim()) localStorage.setItem(key, text); else localStorage.removeItem(key);
    } catch { /* quota: the in-memory copy still holds it */ }
  }
  unsaved.clear();
}

function setDraft(key, text) {
  if ((drafts.get(key) || '') === text) return;
  drafts.set(key, text);
  unsaved.add(key);
  if (!saveTimer) saveTimer = setTimeout(saveDrafts, DRAFT_SAVE_MS);
}

window.addEventListener('pagehide', saveDrafts);
document.addEventListener('visibilitychange', () => { if (document.hidden) saveDrafts(); });

/** crypto.randomUUID exists only in secure contexts; a plain-http LAN install still needs ids. */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * options.replyTo: the root of a thread (the box then sends replies), options.label: the box's
 * accessible name ("Message"), options.placeholder.
 */
export function mountComposer(container, roomId, options = {}) {
  const { replyTo = null, label = 'Message', placeholder = 'Write a message…' } = options;
  const draftKey = `parlour.draft.${store.state.me?.id}.${roomId}${replyTo ? `.${replyTo}` : ''}`;
  const id = nextId('msg');
  const textarea = h('textarea', {
    id, rows: '1', placeholder, maxlength: String(MAX_CHARS + 1000),
  });
  textarea.value = readDraft(draftKey);
  const error = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const uploadsList = h('ul', { class: 'uploads', 'aria-label': 'Attachments' });
  const fileInput = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1' });
  const uploads = []; // {file, progress, att, error, abort}
  let lastTypingSent = 0;

  const mention = attachSuggestions(textarea, {
    source: async () => {
      const q = mentionQuery();
      if (q == null) return [];
      const room = store.state.rooms.get(roomId);
      return (room?.members || [])
        .filter((u) => u.id !== store.state.me.id)
        .filter((u) => `${u.full_name} ${u.email}`.toLowerCase().includes(q.toLowerCase()))
        .slice(0, 8);
    },
    label: (u) => [h('span', {}, u.full_name), ' ', h('span', { class: 'muted' }, u.email)],
    onPick: insertMention,
  });

  /** The word after an "@" right before the caret, or null when not typing a mention. */
  function mentionQuery() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const m = before.match(/(?:^|\s)@([^\s@]{0,40})$/);
    return m ? m[1] : null;
  }

  function insertMention(u) {
    const pos = textarea.selectionStart;
    const before = textarea.value.slice(0, pos).replace(/@([^\s@]{0,40})$/, `@${u.full_name} `);
    textarea.value = before + textarea.value.slice(pos);
    textarea.setSelectionRange(before.length, before.length);
    textarea.focus();
    onInput();
  }

  function renderUploads() {
    uploadsList.replaceChildren(...uploads.map((u) => h('li', { class: `chip${u.error ? ' bad' : ''}` },
      h('span', { class: 'filename' }, u.file.name),
      h('span', { class: 'muted' }, ` ${fmtSize(u.file.size)}`),
      u.att || u.error ? null
        : (u.bar = h('progress', { max: '1', value: String(u.progress), 'aria-label': `Uploading ${u.file.name}` })),
      u.error ? h('span', { class: 'field-error' }, ` ${u.error}`) : null,
      h('button', {
        type: 'button', class: 'icon', 'aria-label': `Remove ${u.file.name}`,
        onclick: () => { u.abort(); uploads.splice(uploads.indexOf(u), 1); renderUploads(); },
      }, icon('close')))));
  }

  function addFiles(files) {
    for (const file of files) {
      const item = { file, progress: 0, att: null, error: null, bar: null, abort: () => {} };
      const up = upload(file, (p) => {
        item.progress = p;
        if (item.bar) item.bar.value = p;
      });
      item.abort = up.abort;
      up.promise
        .then((att) => { item.att = att; })
        .catch((err) => { item.error = err.status === 413 ? 'Too large' : err.message; })
        .finally(renderUploads);
      uploads.push(item);
    }
    renderUploads();
  }

  function onInput() {
    setDraft(draftKey, textarea.value);
    error.textContent = '';
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
    // Throttled: the server shows "typing" until `until`, so one frame every few seconds suffices.
    if (textarea.value.trim() && Date.now() - lastTypingSent > TYPING_EVERY_MS) {
      if (socket.send({ type: 'typing', room_id: roomId })) lastTypingSent = Date.now();
    }
  }

  function submit() {
    const content = textarea.value.trim();
    if (uploads.some((u) => !u.att && !u.error)) { error.textContent = 'Wait for the uploads to finish.'; return; }
    const done = uploads.filter((u) => u.att);
    if (!content && !done.length) return;
    if (content.length > MAX_CHARS) {
      error.textContent = `The message is too long (at most ${MAX_CHARS.toLocaleString()} characters).`;
      return;
    }
    store.queueMessage({
      client_id: uuid(), room_id: roomId, content, ...(replyTo ? { reply_to: replyTo } : {}),
      attachment_ids: done.map((u) => u.att.id),
      attachments: done.map((u) => ({ ...u.att, filename: u.file.name, size: u.file.size })),
    });
    textarea.value = '';
    uploads.length = 0;
    renderUploads();
    setDraft(draftKey, '');
    saveDrafts(); // sent: a reload must not bring the text back
    lastTypingSent = 0;
    onInput();
    textarea.focus();
  }

  textarea.addEventListener('input', onInput);
  textarea.addEventListener('keydown', (e) => {
    if (e.defaultPrevented) return; // the mention list used this key
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  textarea.addEventListener('paste', (e) => {
    if (e.clipboardData?.files?.length) { e.preventDefault(); addFiles(e.clipboardData.files); }
  });
  fileInput.addEventListener('change', () => { addFiles(fileInput.files); fileInput.value = ''; });

  const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } },
    uploadsList,
    h('div', { class: 'composer-row' },
      h('button', { type: 'button', class: 'icon attach', 'aria-label': 'Attach files', title: 'Attach files', onclick: () => fileInput.click() }, icon('attach')),
      fileInput,
      h('label', { for: id, class: 'sr-only' }, label),
      textarea,
      h('button', { type: 'submit', class: 'primary send', 'aria-label': 'Send', title: 'Send (Enter)' }, icon('send'))),
    mention.list, error);
  container.append(form);
  if (textarea.value) requestAnimationFrame(onInput); // size a restored draft

  return { addFiles, focus: () => textarea.focus(), textarea };
}
