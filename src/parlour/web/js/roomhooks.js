// Incoming webhooks of one room, in its Manage panel (the room's admins): the list (GET
// /rooms/{id}/webhooks), Create (POST: its secret URL shown once, with a curl example) and Revoke
// (DELETE /webhooks/{id}: the URL then answers 404). A POST of {"text"} to the URL posts into the
// room as the webhook's bot.

import { h, nextId, fmtWhen } from './dom.js';
import { icon } from './icons.js';
import { del, get, post } from './api.js';
import * as store from './store.js';
import { shownOnce } from './integrations.js';

const enc = encodeURIComponent;

/** The shell line that posts to a webhook URL (single quotes: the URL and JSON stay literal). */
export function curlExample(url) {
  return `curl -X POST -H 'Content-Type: application/json' -d '{"text": "Build **passed** on main"}' '${url}'`;
}

/** The Incoming webhooks part of Manage. Returns its node; it loads the list at once. */
export function webhookSection(roomId) {
  let hooks = null;
  const headingId = nextId('in-hooks');
  const host = h('ul', { class: 'in-hooks' }, h('li', { class: 'muted' }, 'Loading…'));
  const nameId = nextId('hook-name');
  const nameInput = h('input', { id: nameId, type: 'text', maxlength: '100', placeholder: 'e.g. CI, Alerts' });
  const error = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const onceHost = h('div');
  const createBtn = h('button', { type: 'submit' }, 'Create webhook');
  const form = h('form', { class: 'inline', onsubmit: create },
    h('label', { for: nameId }, 'Webhook name'), nameInput, createBtn);

  async function load() {
    try {
      hooks = await get(`/rooms/${enc(roomId)}/webhooks`);
      render();
    } catch (err) {
      host.replaceChildren(h('li', { class: 'field-error' }, `Could not load webhooks: ${err.message}`));
    }
  }

  async function create(e) {
    e.preventDefault();
    error.textContent = '';
    const name = nameInput.value.trim();
    if (!name) { error.textContent = 'Enter a name for the webhook (it is shown on its messages).'; nameInput.focus(); return; }
    createBtn.disabled = true;
    try {
      const made = await post(`/rooms/${enc(roomId)}/webhooks`, { name });
      const url = new URL(made.url, window.location.origin).href; // absolute, whatever the server sent
      hooks = [{ created_at: new Date().toISOString(), created_by: store.state.me.id, name, room_id: roomId, ...made }, ...(hooks || []).filter((x) => x.id !== made.id)];
      render();
      nameInput.value = '';
      onceHost.replaceChildren(shownOnce({
        title: `URL of ${made.name || name}`,
        value: url,
        warning: 'Copy it now: it will not be shown again. Anyone holding it can post here.',
        extra: [h('p', { class: 'hint' }, 'Post to it, e.g. from a CI job:'), h('pre', { class: 'curl' }, curlExample(url))],
        onDone: () => nameInput.focus(),
      }));
      onceHost.querySelector('button')?.focus();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      createBtn.disabled = false;
    }
  }

  async function revoke(w, button) {
    if (!window.confirm(`Revoke the webhook "${w.name}"? Its URL stops working at once. Its messages stay.`)) return;
    button.disabled = true;
    error.textContent = '';
    try {
      await del(`/webhooks/${enc(w.id)}`);
    } catch (err) {
      if (err.status !== 404) { error.textContent = err.message; button.disabled = false; return; }
    }
    hooks = hooks.filter((x) => x.id !== w.id);
    render();
  }

  function render() {
    if (!hooks.length) { host.replaceChildren(h('li', { class: 'muted' }, 'None yet.')); return; }
    host.replaceChildren(...hooks.map((w) => {
      const id = nextId('in-hook');
      const by = w.created_by ? store.user(w.created_by)?.full_name : null;
      return h('li', { 'data-hook': w.id },
        icon('link'),
        h('span', { class: 'grow', id }, w.name,
          h('span', { class: 'muted small-text' }, ` · ${by ? `by ${by}, ` : ''}${fmtWhen(w.created_at)}`)),
        h('button', { type: 'button', class: 'small danger', 'aria-describedby': id, onclick: (e) => revoke(w, e.currentTarget) }, 'Revoke'));
    }));
  }

  load();
  return h('section', { class: 'in-hooks-section', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, 'Incoming webhooks'),
    h('p', { class: 'hint' }, 'A URL that other systems POST {"text": "…"} to; their messages show here, marked BOT.'),
    host, form, error, onceHost);
}
