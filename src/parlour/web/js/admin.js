// The Administration page (#/admin, organization admins only): the people of the organization,
// deactivated ones included (GET /users?include_inactive=true), Create user, and Deactivate /
// Reactivate per person (PATCH /users/{id} {"is_active"}); then Bots and Outgoing webhooks
// (integrations.js).

import { h, nextId, avatar, botBadge, fmtWhen } from './dom.js';
import { icon } from './icons.js';
import { get, patch, post } from './api.js';
import * as store from './store.js';
import { botsSection, webhooksSection } from './integrations.js';

function section(title, ...kids) {
  const id = nextId('sec');
  return h('section', { class: 'card admin-card', 'aria-labelledby': id }, h('h2', { id }, title), kids);
}

export function adminPage(main) {
  const me = store.user(store.state.me.id) || store.state.me;
  if (!me.is_admin) {
    main.replaceChildren(h('h1', {}, 'Administration'),
      h('p', { class: 'muted' }, 'Only administrators of your organization can see this page.'));
    return () => {};
  }
  let users = null;
  let seq = 0;
  const errors = new Map(); // user id -> refused change
  const filter = h('input', { type: 'search', placeholder: 'Name or email', 'aria-label': 'Filter people' });
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const host = h('div', { class: 'admin-users' }, h('p', { class: 'muted' }, 'Loading…'));

  // ---- Create user ----------------------------------------------------------------------------
  const fields = {};
  const input = (key, text, attrs) => {
    const el = h('input', { id: nextId('cu'), ...attrs });
    const err = h('p', { class: 'field-error', id: `${el.id}-err`, 'aria-live': 'polite' });
    el.setAttribute('aria-describedby', err.id);
    fields[key] = { el, err };
    return h('div', { class: 'field' }, h('label', { for: el.id }, text), el, err);
  };
  const adminBox = h('input', { type: 'checkbox' });
  const createNote = h('p', { class: 'hint', role: 'status' });
  const createError = h('p', { class: 'field-error', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'primary' }, icon('plus'), 'Create user');
  const createForm = h('form', { class: 'create-user', novalidate: true, onsubmit: createUser },
    h('div', { class: 'form-grid' },
      input('email', 'Email', { type: 'email', autocomplete: 'off', required: true }),
      input('full_name', 'Full name', { type: 'text', autocomplete: 'off', maxlength: '200', required: true }),
      input('password', 'Password', { type: 'password', autocomplete: 'new-password', required: true })),
    h('label', { class: 'choice' }, adminBox, ' Administrator (can manage people)'),
    createError, h('div', { class: 'row-actions' }, createBtn), createNote);

  async function createUser(e) {
    e.preventDefault();
    for (const f of Object.values(fields)) { f.err.textContent = ''; f.el.removeAttribute('aria-invalid'); }
    createError.textContent = '';
    createNote.textContent = '';
    const body = {
      email: fields.email.el.value.trim(), full_name: fields.full_name.el.value.trim(), password: fields.password.el.value,
      ...(adminBox.checked ? { is_admin: true } : {}),
    };
    const missing = [['email', 'Enter an email address.'], ['full_name', 'Enter a name.'], ['password', 'Enter a first password.']]
      .filter(([key]) => !body[key]);
    if (missing.length) {
      for (const [key, msg] of missing) { fields[key].err.textContent = msg; fields[key].el.setAttribute('aria-invalid', 'true'); }
      fields[missing[0][0]].el.focus();
      return;
    }
    createBtn.disabled = true;
    try {
      const created = await post('/users', body);
      users = [created, ...(users || []).filter((u) => u.id !== created.id)];
      render();
      createForm.reset();
      createNote.textContent = `Created ${created.full_name}. They can log in with ${created.email} and the password you chose.`;
      fields.email.el.focus();
    } catch (err) {
      const about = `${err.code} ${JSON.stringify(err.details || {})}`;
      const key = err.status === 409 || /email/.test(about) ? 'email' : /password/.test(about) ? 'password' : /name/.test(about) ? 'full_name' : null;
      const msg = err.status === 409 ? `Someone already uses ${body.email}.` : err.message;
      if (key) { fields[key].err.textContent = msg; fields[key].el.setAttribute('aria-invalid', 'true'); fields[key].el.focus(); } else createError.textContent = msg;
    } finally {
      createBtn.disabled = false;
    }
  }

  // ---- the people -----------------------------------------------------------------------------
  async function load() {
    const mine = ++seq;
    try {
      const found = await get('/users', { include_inactive: 'true', limit: 200 });
      if (mine !== seq) return;
      users = found;
      render();
    } catch (err) {
      if (mine === seq) host.replaceChildren(h('p', { class: 'field-error' }, `Could not load people: ${err.message}`));
    }
  }

  async function setActive(u, active, button) {
    button.disabled = true;
    errors.delete(u.id);
    try {
      const updated = await patch(`/users/${encodeURIComponent(u.id)}`, { is_active: active });
      users = users.map((x) => (x.id === u.id ? (updated?.id ? updated : { ...x, is_active: active }) : x));
    } catch (err) {
      errors.set(u.id, err.message);
    }
    render();
  }

  function row(u) {
    const nameId = nextId('adm');
    const self = u.id === store.state.me.id;
    const error = errors.get(u.id);
    return h('tr', { 'data-user': u.id, class: u.is_active ? null : 'inactive' },
      h('td', { class: 'who' }, avatar(u), h('span', { id: nameId }, u.full_name), botBadge(u), self ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', {}, u.email),
      h('td', {}, u.is_admin ? h('span', { class: 'tag' }, 'Admin') : 'Member'),
      h('td', {}, u.is_active ? 'Active' : h('span', { class: 'tag off-tag' }, 'Deactivated'),
        u.last_seen_at ? h('span', { class: 'muted small-text' }, ` · seen ${fmtWhen(u.last_seen_at)}`) : null),
      h('td', { class: 'actions-cell' },
        self ? null : h('button', {
          type: 'button', class: `small${u.is_active ? ' danger' : ''}`, 'aria-describedby': nameId, 'data-fk': 'active',
          onclick: (e) => setActive(u, !u.is_active, e.currentTarget),
        }, u.is_active ? 'Deactivate' : 'Reactivate'),
        error ? h('p', { class: 'field-error', role: 'alert' }, error) : null));
  }

  function render() {
    if (!users) return;
    const q = filter.value.trim().toLowerCase();
    const shown = users.filter((u) => !q || `${u.full_name} ${u.email}`.toLowerCase().includes(q))
      .sort((a, b) => a.full_name.localeCompare(b.full_name));
    const inactive = users.filter((u) => !u.is_active).length;
    summary.textContent = `${users.length} ${users.length === 1 ? 'person' : 'people'}${inactive ? `, ${inactive} deactivated` : ''}`;
    const focused = host.contains(document.activeElement) ? document.activeElement.closest('tr')?.dataset.user : null;
    /** @type {HTMLButtonElement | null} */
    let again = null;
    if (!shown.length) { host.replaceChildren(h('p', { class: 'muted' }, 'Nobody matches.')); return; }
    const headers = ['Name', 'Email', 'Role', 'Status', ''];
    const rows = shown.map(row);
    for (const tr of rows) [...tr.children].forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
    host.replaceChildren(h('table', { class: 'cards' },
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t ? t : h('span', { class: 'sr-only' }, 'Actions'))))),
      h('tbody', {}, rows)));
    if (focused) again = host.querySelector(`tr[data-user="${CSS.escape(focused)}"] button`);
    again?.focus();
  }
  filter.addEventListener('input', render);
  const bots = botsSection();
  const hooks = webhooksSection();

  main.replaceChildren(h('div', { class: 'admin' },
    h('h1', {}, 'Administration'),
    section('Users',
      h('p', { class: 'hint' }, 'Deactivated people cannot log in; their messages stay. Reactivate them at any time.'),
      h('div', { class: 'filters' }, filter, summary), host),
    section('Create user', createForm),
    h('div', { class: 'admin-slot', id: 'admin-bots' }, bots.node),
    h('div', { class: 'admin-slot', id: 'admin-webhooks' }, hooks.node)));
  load();
  return () => { seq += 1; bots.destroy(); hooks.destroy(); };
}
