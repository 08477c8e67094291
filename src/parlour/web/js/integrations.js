// Integrations on the Administration page (organization admins): Bots (POST/GET /bots, DELETE
// /bots/{id}) and Outgoing webhooks (POST/GET /webhooks, DELETE /webhooks/{id}); and the box that
// shows a secret once (a bot's token, an outgoing webhook's signing secret, an incoming webhook's
// URL: the server keeps only a hash, so it can never be shown again).

import { h, nextId, avatar, botBadge, fmtWhen } from './dom.js';
import { icon } from './icons.js';
import { del, get, post } from './api.js';
import * as store from './store.js';

const enc = encodeURIComponent;

/** Copies text; without the Clipboard API (plain http) selects `node`'s text and asks execCommand. */
async function copyText(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    return document.execCommand('copy'); // deprecated, but the only way on an insecure origin
  }
}

/**
 * A secret shown once: its name, the value (selectable), a Copy button, the warning that it will
 * not be shown again, optional extra nodes (e.g. a curl example) and Done, which removes the box.
 */
export function shownOnce({ title, value, warning, extra = null, onDone = null }) {
  const titleId = nextId('once');
  const code = h('code', { class: 'secret-value' }, value);
  const copied = h('span', { class: 'hint copied', role: 'status' });
  const copyBtn = h('button', {
    type: 'button', class: 'small', onclick: async () => {
      copied.textContent = (await copyText(value, code)) ? 'Copied.' : 'Select the text and copy it.';
    },
  }, icon('copy'), 'Copy');
  const box = h('div', { class: 'secret-once', role: 'region', 'aria-labelledby': titleId },
    h('p', { class: 'secret-title', id: titleId }, title),
    h('div', { class: 'secret-row' }, code, copyBtn),
    h('p', { class: 'secret-warning' }, icon('lock'), warning), copied,
    extra,
    h('div', { class: 'row-actions' }, h('button', { type: 'button', class: 'small', onclick: () => { box.remove(); onDone?.(); } }, 'Done')));
  return box;
}

function section(title, ...kids) {
  const id = nextId('sec');
  return h('section', { class: 'card admin-card', 'aria-labelledby': id }, h('h2', { id }, title), kids);
}

/** A table that turns into cards on a phone (each cell labelled by its column, app.css). */
function cardTable(headers, rows) {
  for (const tr of rows) [...tr.children].forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
  return h('table', { class: 'cards' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t || h('span', { class: 'sr-only' }, 'Actions'))))),
    h('tbody', {}, rows));
}

/** A labelled text field with its error line (aria-describedby). */
function textField(text, attrs) {
  const el = h('input', { id: nextId('intg'), type: 'text', autocomplete: 'off', ...attrs });
  const err = h('p', { class: 'field-error', id: `${el.id}-err`, 'aria-live': 'polite' });
  el.setAttribute('aria-describedby', err.id);
  const setError = (msg) => {
    err.textContent = msg || '';
    if (msg) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid');
  };
  return { el, setError, wrap: h('div', { class: 'field' }, h('label', { for: el.id }, text), el, err) };
}

// ---- Bots -------------------------------------------------------------------------------------

/** The Bots section: who they are, Create bot (its token once), Revoke. Returns {node, destroy}. */
export function botsSection() {
  let bots = null;
  let alive = true;
  const errors = new Map(); // bot id -> refused revoke
  const host = h('div', { class: 'admin-bots-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const name = textField('Bot name', { maxlength: '200', placeholder: 'e.g. CI, Alerts, Helpdesk' });
  const onceHost = h('div');
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'primary' }, icon('plus'), 'Create bot');
  const form = h('form', { class: 'inline-form', novalidate: true, onsubmit: create }, name.wrap, h('div', { class: 'row-actions' }, createBtn));

  async function load() {
    try {
      const found = await get('/bots');
      if (!alive) return;
      bots = found;
      render();
    } catch (err) {
      if (alive) host.replaceChildren(h('p', { class: 'field-error' }, `Could not load bots: ${err.message}`));
    }
  }

  async function create(e) {
    e.preventDefault();
    name.setError('');
    formError.textContent = '';
    const value = name.el.value.trim();
    if (!value) { name.setError('Enter a name for the bot.'); name.el.focus(); return; }
    createBtn.disabled = true;
    try {
      const made = await post('/bots', { name: value });
      store.rememberUser(made.user);
      bots = [made.user, ...(bots || []).filter((b) => b.id !== made.user.id)];
      render();
      form.reset();
      onceHost.replaceChildren(shownOnce({
        title: `Token of ${made.user.full_name}`,
        value: made.token,
        warning: 'Copy it now: it will not be shown again. Anyone holding it acts as this bot.',
        extra: h('p', { class: 'hint' }, 'The bot uses it as "Authorization: Bearer <token>". Add it to rooms from their Manage panel (Add people).'),
        onDone: () => name.el.focus(),
      }));
      onceHost.querySelector('button')?.focus();
    } catch (err) {
      if (/name/.test(`${err.code} ${JSON.stringify(err.details || {})}`)) { name.setError(err.message); name.el.focus(); } else formError.textContent = err.message;
    } finally {
      createBtn.disabled = false;
    }
  }

  async function revoke(bot, button) {
    if (!window.confirm(`Revoke ${bot.full_name}? Its token stops working at once and its connections close. Its messages stay.`)) return;
    button.disabled = true;
    errors.delete(bot.id);
    try {
      await del(`/bots/${enc(bot.id)}`);
      bots = bots.filter((b) => b.id !== bot.id);
    } catch (err) {
      if (err.status === 404) bots = bots.filter((b) => b.id !== bot.id); // already gone
      else errors.set(bot.id, err.message);
    }
    render();
  }

  function render() {
    if (!bots) return;
    const live = bots.filter((b) => b.is_active !== false);
    if (!live.length) { host.replaceChildren(h('p', { class: 'muted' }, 'No bots yet.')); return; }
    const rows = live.sort((a, b) => a.full_name.localeCompare(b.full_name)).map((b) => {
      const nameId = nextId('bot');
      const error = errors.get(b.id);
      return h('tr', { 'data-bot': b.id },
        h('td', { class: 'who' }, avatar(b), h('span', { id: nameId }, b.full_name), botBadge({ is_bot: true })),
        h('td', {}, b.status === 'online' ? 'Connected' : b.last_seen_at ? `Last seen ${fmtWhen(b.last_seen_at)}` : 'Not connected yet'),
        h('td', { class: 'actions-cell' },
          h('button', { type: 'button', class: 'small danger', 'aria-describedby': nameId, onclick: (e) => revoke(b, e.currentTarget) }, 'Revoke'),
          error ? h('p', { class: 'field-error', role: 'alert' }, error) : null));
    });
    host.replaceChildren(cardTable(['Name', 'Activity', ''], rows));
  }

  load();
  return {
    node: section('Bots',
      h('p', { class: 'hint' }, 'A bot is an account for a program: it signs in with a token (never a password), uses the same API and shows as BOT.'),
      host, h('h3', {}, 'Create bot'), form, formError, onceHost),
    destroy() { alive = false; },
  };
}

// ---- Outgoing webhooks ------------------------------------------------------------------------

/** The event types an outgoing webhook may subscribe to (src/parlour/events/types.py). */
export const WEBHOOK_EVENTS = [
  ['message.created', 'A message is sent'],
  ['message.updated', 'A message is edited'],
  ['message.deleted', 'A message is deleted'],
  ['room.created', 'A room is created'],
  ['room.updated', 'A room is renamed or its topic changes'],
  ['room.member_added', 'Someone joins or is added'],
  ['room.member_removed', 'Someone leaves or is removed'],
];

/**
 * The last delivery: "HTTP 200" (the receiver's status), "No answer" (last_error says why) or
 * "Not delivered yet", and whether it went well (null: nothing to say yet).
 */
export function deliveryState(w) {
  const s = w.last_status;
  if (typeof s === 'number') return { ok: s >= 200 && s < 300, text: `HTTP ${s}` };
  return w.last_error ? { ok: false, text: 'No answer' } : { ok: null, text: 'Not delivered yet' };
}

/** The Outgoing webhooks section: list with last delivery, Create (secret once), Delete. */
export function webhooksSection() {
  let hooks = null;
  let alive = true;
  let roomsLoaded = false;
  const errors = new Map();
  const host = h('div', { class: 'admin-hooks-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const url = textField('Receiver URL', { type: 'url', inputmode: 'url', placeholder: 'https://example.com/parlour-events', maxlength: '2000' });
  const legendId = nextId('events');
  const eventsErr = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const boxes = new Map();
  const events = h('fieldset', { class: 'event-types', 'aria-labelledby': legendId },
    h('legend', { id: legendId }, 'Events'),
    h('div', { class: 'event-grid' }, WEBHOOK_EVENTS.map(([type, help]) => {
      const box = h('input', { type: 'checkbox', value: type, checked: type === 'message.created' });
      boxes.set(type, box);
      return h('label', { class: 'choice event-choice' }, box, h('span', {}, h('code', {}, type), h('span', { class: 'hint' }, ` ${help}`)));
    })), eventsErr);
  const roomBoxes = new Map();
  const roomsList = h('div', { class: 'room-picks' }, h('p', { class: 'muted' }, 'Loading rooms…'));
  const rooms = h('details', { class: 'room-limit', ontoggle: () => { if (rooms.open) loadRooms(); } },
    h('summary', {}, 'Only some rooms (optional)'),
    h('p', { class: 'hint' }, 'Nothing ticked: every channel of the organization. Tick a group (one you are in) to hear it too; other people\'s groups and direct messages are never sent.'), roomsList);
  const onceHost = h('div');
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'primary' }, icon('plus'), 'Create webhook');
  const form = h('form', { class: 'hook-form', novalidate: true, onsubmit: create },
    url.wrap, events, rooms, formError, h('div', { class: 'row-actions' }, createBtn));

  async function loadRooms() {
    if (roomsLoaded) return;
    roomsLoaded = true;
    let channels = [];
    try { channels = await get('/channels'); } catch { /* my own rooms are enough */ }
    const all = new Map();
    for (const r of store.sortedRooms()) if (r.type !== 'direct') all.set(r.id, store.roomName(r));
    for (const c of channels) if (!all.has(c.id)) all.set(c.id, store.channelName(c));
    if (!all.size) { roomsList.replaceChildren(h('p', { class: 'muted' }, 'No groups or channels yet.')); return; }
    roomsList.replaceChildren(...[...all].sort((a, b) => a[1].localeCompare(b[1])).map(([id, label]) => {
      const box = h('input', { type: 'checkbox', value: id });
      roomBoxes.set(id, box);
      return h('label', { class: 'choice' }, box, h('span', {}, label));
    }));
  }

  async function load() {
    try {
      const found = await get('/webhooks');
      if (!alive) return;
      hooks = found;
      render();
    } catch (err) {
      if (alive) host.replaceChildren(h('p', { class: 'field-error' }, `Could not load webhooks: ${err.message}`));
    }
  }

  async function create(e) {
    e.preventDefault();
    url.setError('');
    eventsErr.textContent = '';
    formError.textContent = '';
    const target = url.el.value.trim();
    const types = [...boxes].filter(([, b]) => b.checked).map(([t]) => t);
    const roomIds = [...roomBoxes].filter(([, b]) => b.checked).map(([id]) => id);
    let bad = false;
    if (!/^https?:\/\/\S+$/i.test(target)) { url.setError('Enter the receiver\'s http(s) URL.'); bad = true; }
    if (!types.length) { eventsErr.textContent = 'Choose at least one event.'; bad = true; }
    if (bad) { (url.el.getAttribute('aria-invalid') ? url.el : boxes.get('message.created')).focus(); return; }
    createBtn.disabled = true;
    try {
      const made = await post('/webhooks', { url: target, events: types, ...(roomIds.length ? { room_ids: roomIds } : {}) });
      hooks = [{ last_status: null, last_error: null, last_delivery_at: null, ...made }, ...(hooks || []).filter((x) => x.id !== made.id)];
      render();
      url.el.value = '';
      onceHost.replaceChildren(shownOnce({
        title: `Signing secret for ${made.url || target}`,
        value: made.secret,
        warning: 'Copy it now: it will not be shown again.',
        extra: h('p', { class: 'hint' }, 'Each delivery carries X-Parlour-Signature: sha256=<HMAC-SHA256 of the body with this secret>; check it before trusting a request.'),
        onDone: () => url.el.focus(),
      }));
      onceHost.querySelector('button')?.focus();
    } catch (err) {
      const about = `${err.code} ${JSON.stringify(err.details || {})}`;
      if (/url/i.test(about)) { url.setError(err.message); url.el.focus(); } else if (/event/i.test(about)) eventsErr.textContent = err.message; else formError.textContent = err.message;
    } finally {
      createBtn.disabled = false;
    }
  }

  async function remove(w, button) {
    if (!window.confirm(`Delete the webhook to ${w.url}? Deliveries stop at once.`)) return;
    button.disabled = true;
    errors.delete(w.id);
    try {
      await del(`/webhooks/${enc(w.id)}`);
      hooks = hooks.filter((x) => x.id !== w.id);
    } catch (err) {
      if (err.status === 404) hooks = hooks.filter((x) => x.id !== w.id);
      else errors.set(w.id, err.message);
    }
    render();
  }

  const roomLabel = (id) => {
    const r = store.state.rooms.get(id);
    if (r) return store.roomName(r);
    const c = store.channel(id);
    return c ? store.channelName(c) : 'a room';
  };

  function render() {
    if (!hooks) return;
    if (!hooks.length) { host.replaceChildren(h('p', { class: 'muted' }, 'No outgoing webhooks yet.')); return; }
    const rows = hooks.map((w) => {
      const urlId = nextId('hook');
      const st = deliveryState(w);
      const error = errors.get(w.id);
      return h('tr', { 'data-hook': w.id },
        h('td', { class: 'hook-url' }, h('span', { id: urlId }, w.url)),
        h('td', { class: 'hook-events' }, (w.events || []).map((t) => h('code', { class: 'event-tag' }, t)),
          w.room_ids?.length ? h('span', { class: 'hint hook-rooms' }, `Only ${w.room_ids.map(roomLabel).join(', ')}`) : null),
        h('td', { class: 'hook-status' },
          h('span', { class: `tag${st.ok === false ? ' off-tag' : st.ok ? ' ok-tag' : ''}` }, st.text),
          w.last_delivery_at ? h('span', { class: 'muted' }, ` · ${fmtWhen(w.last_delivery_at)}`) : null,
          w.pending ? h('span', { class: 'muted' }, ` · ${w.pending} waiting`) : null,
          w.last_error ? h('p', { class: 'hook-error' }, w.last_error) : null),
        h('td', { class: 'actions-cell' },
          h('button', { type: 'button', class: 'small danger', 'aria-describedby': urlId, onclick: (e) => remove(w, e.currentTarget) }, 'Delete'),
          error ? h('p', { class: 'field-error', role: 'alert' }, error) : null));
    });
    host.replaceChildren(cardTable(['URL', 'Events', 'Last delivery', ''], rows));
  }

  load();
  const timer = setInterval(() => { if (alive && !document.hidden) load(); }, 15000); // delivery states move on
  return {
    node: section('Outgoing webhooks',
      h('p', { class: 'hint' }, 'Parlour POSTs each chosen event as JSON to the URL, signed, in order, retrying until it answers 2xx.'),
      host, h('h3', {}, 'Create webhook'), form, onceHost),
    destroy() { alive = false; clearInterval(timer); },
  };
}
