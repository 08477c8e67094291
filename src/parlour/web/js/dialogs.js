// The "New" dialog (Direct / Group / Channel) and the suggestion list used by every people picker
// (User, Members, adding group members, @mentions).

import { h, nextId, debounce, botBadge } from './dom.js';
import { icon } from './icons.js';
import { get, post } from './api.js';
import * as store from './store.js';

/**
 * Attaches a listbox of suggestions under a text input.
 * source(input) -> Promise<items>; label(item) -> node/text; onPick(item).
 * Enter/Tab pick the active suggestion and call preventDefault(), so other keydown handlers on
 * the same input (the composer's Enter-to-send) must ignore defaultPrevented events.
 */
export function attachSuggestions(input, { source, label, onPick }) {
  const list = h('ul', { class: 'suggest', role: 'listbox', id: nextId('suggest'), hidden: true });
  input.setAttribute('aria-controls', list.id);
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('autocomplete', 'off');
  let items = [];
  let active = -1;
  let seq = 0;

  function render() {
    list.replaceChildren(...items.map((item, i) => h('li', {
      role: 'option', id: `${list.id}-${i}`, 'aria-selected': String(i === active),
      onmousedown: (e) => e.preventDefault(), // keep focus in the input
      onclick: () => pick(i),
    }, label(item))));
    list.hidden = !items.length;
    if (active >= 0) input.setAttribute('aria-activedescendant', `${list.id}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function close() { seq += 1; items = []; active = -1; render(); }

  function pick(i) {
    const item = items[i];
    close();
    if (item) onPick(item);
  }

  async function refresh() {
    const mine = ++seq;
    let result = [];
    try { result = await source(input); } catch { /* suggestions are best effort */ }
    if (mine !== seq) return; // a newer keystroke already asked
    items = result;
    active = items.length ? 0 : -1;
    render();
  }

  input.addEventListener('input', debounce(refresh, 120));
  input.addEventListener('blur', () => setTimeout(close, 150));
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      render();
      e.preventDefault();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0 && !e.shiftKey) {
      e.preventDefault();
      pick(active);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation(); // closes the list, not the surrounding dialog
      close();
    }
  });
  return { list, close, refresh };
}

/** Active users of my organization matching q, minus me and `exclude` ids. */
export async function searchPeople(q, exclude = new Set()) {
  if (!q.trim()) return [];
  const users = await get('/users', { q: q.trim(), limit: 10 });
  return users.map(store.rememberUser)
    .filter((u) => u.id !== store.state.me.id && !exclude.has(u.id));
}

export const personLabel = (u) => [h('span', {}, u.full_name), botBadge(u), ' ', h('span', { class: 'muted' }, u.email)];

/** When someone typed a name or email but did not pick a suggestion, accept one clear match. */
async function resolveTyped(text, exclude) {
  const found = await searchPeople(text, exclude);
  const t = text.trim().toLowerCase();
  return found.find((u) => u.email.toLowerCase() === t || u.full_name.toLowerCase() === t)
    || (found.length === 1 ? found[0] : null);
}

/** A labelled field with an error line wired through aria-describedby. */
function field(labelText, input) {
  const id = nextId('f');
  const err = h('p', { class: 'field-error', id: `${id}-err`, 'aria-live': 'polite' });
  input.id = id;
  input.setAttribute('aria-describedby', err.id);
  const setError = (msg) => {
    err.textContent = msg || '';
    if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  };
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, labelText), input);
  return { wrap, err, setError };
}

export const TOPIC_CHARS = 250;

/** Opens the modal "New" dialog. onCreated(room) runs after the server created (or found) it. */
export function openNewChat(onCreated, { kind: firstKind = 'direct' } = {}) {
  const titleId = nextId('new-title');
  const dlg = h('dialog', { class: 'modal', 'aria-labelledby': titleId });
  const form = h('form', { novalidate: true });
  const formError = h('p', { class: 'field-error', 'aria-live': 'polite' });
  const body = h('div', { class: 'kind-fields' });
  const kindName = nextId('kind');
  const radio = (value, text, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: kindName, value, checked, onchange: () => showKind(value) }), ` ${text}`);
  let kind = firstKind;
  let direct = null; // picked user
  const members = new Map(); // picked users for a group
  let fields = {};

  // Only the chosen kind's fields exist in the DOM, so labels like "Group" and "Group name" are
  // never on screen together and each label finds exactly one element.
  function showKind(value) {
    kind = value;
    formError.textContent = '';
    if (value === 'direct') buildDirect(); else if (value === 'channel') buildChannel(); else buildGroup();
  }

  function buildDirect() {
    const input = h('input', { type: 'text', placeholder: 'Name or email' });
    const f = field('User', input);
    const sug = attachSuggestions(input, {
      source: () => searchPeople(input.value),
      label: personLabel,
      onPick: (u) => { direct = u; input.value = u.full_name; f.setError(''); },
    });
    input.addEventListener('input', () => { if (input.value !== direct?.full_name) direct = null; });
    f.wrap.append(sug.list, f.err);
    fields = { user: f, userInput: input };
    body.replaceChildren(f.wrap);
    input.focus();
  }

  function buildGroup() {
    const nameInput = h('input', { type: 'text', maxlength: '200' });
    const name = field('Group name', nameInput);
    name.wrap.append(name.err);
    const chips = h('ul', { class: 'chips', 'aria-label': 'Chosen people' });
    const memberInput = h('input', { type: 'text', placeholder: 'Add people by name or email' });
    const mem = field('Members', memberInput);
    const renderChips = () => chips.replaceChildren(...[...members.values()].map((u) => h('li', { class: 'chip' },
      h('span', {}, u.full_name),
      h('button', {
        type: 'button', class: 'icon', 'aria-label': `Remove ${u.full_name}`,
        onclick: () => { members.delete(u.id); renderChips(); memberInput.focus(); },
      }, icon('close')))));
    const sug = attachSuggestions(memberInput, {
      source: () => searchPeople(memberInput.value, new Set(members.keys())),
      label: personLabel,
      onPick: (u) => { members.set(u.id, u); memberInput.value = ''; mem.setError(''); renderChips(); },
    });
    memberInput.addEventListener('keydown', async (e) => {
      // Enter adds the typed person (if exactly one matches) instead of submitting the form.
      if (e.key === 'Enter' && !e.defaultPrevented && memberInput.value.trim()) {
        e.preventDefault();
        const u = await resolveTyped(memberInput.value, new Set(members.keys()));
        if (!u) { mem.setError('No single person matches; pick one from the suggestions.'); return; }
        sug.close();
        members.set(u.id, u); memberInput.value = ''; mem.setError(''); renderChips();
      } else if (e.key === 'Backspace' && !memberInput.value && members.size) {
        members.delete([...members.keys()].pop());
        renderChips();
      }
    });
    renderChips();
    mem.wrap.append(chips, memberInput, sug.list, mem.err);
    fields = { name, nameInput, mem, memberInput };
    body.replaceChildren(name.wrap, mem.wrap);
    nameInput.focus();
  }

  function buildChannel() {
    const nameInput = h('input', { type: 'text', maxlength: '200', placeholder: 'e.g. launch-plans', autocomplete: 'off' });
    const name = field('Channel name', nameInput);
    // The "#" is shown before the box (a channel shows as "# name"); typing one too is harmless.
    name.wrap.replaceChildren(name.wrap.firstChild, h('span', { class: 'hash-input' },
      h('span', { class: 'hash', 'aria-hidden': 'true' }, '#'), nameInput), name.err);
    const topicInput = h('input', { type: 'text', maxlength: String(TOPIC_CHARS), placeholder: 'What is this channel about? (optional)' });
    const topic = field('Topic', topicInput);
    const left = h('span', { class: 'hint counter', 'aria-hidden': 'true' });
    const showLeft = () => {
      const n = TOPIC_CHARS - topicInput.value.length;
      left.textContent = n < 50 ? `${n} characters left` : '';
    };
    topicInput.addEventListener('input', () => { showLeft(); topic.setError(''); });
    nameInput.addEventListener('input', () => name.setError(''));
    topic.wrap.append(left, topic.err);
    fields = { name, nameInput, topic, topicInput };
    body.replaceChildren(name.wrap, topic.wrap,
      h('p', { class: 'hint' }, 'Anyone in your organization can find this channel in Browse channels and join it.'));
    nameInput.focus();
  }

  async function createChannel() {
    const name = fields.nameInput.value.trim().replace(/^#+\s*/, '');
    const topic = fields.topicInput.value.trim();
    fields.name.setError(name ? '' : 'Enter a channel name.');
    if (!name) { fields.nameInput.focus(); return null; }
    if (topic.length > TOPIC_CHARS) {
      fields.topic.setError(`A topic is at most ${TOPIC_CHARS} characters.`);
      fields.topicInput.focus();
      return null;
    }
    return post('/rooms', { type: 'channel', name, ...(topic ? { topic } : {}) });
  }

  async function createDirect() {
    let who = direct;
    if (!who && fields.userInput.value.trim()) who = await resolveTyped(fields.userInput.value, new Set());
    if (!who) { fields.user.setError('Choose a person from the suggestions.'); fields.userInput.focus(); return null; }
    return post('/rooms', { type: 'direct', user_id: who.id });
  }

  async function createGroup() {
    const name = fields.nameInput.value.trim();
    if (fields.memberInput.value.trim()) {
      const typed = await resolveTyped(fields.memberInput.value, new Set(members.keys()));
      if (typed) { members.set(typed.id, typed); fields.memberInput.value = ''; }
    }
    fields.name.setError(name ? '' : 'Enter a group name.');
    fields.mem.setError(members.size ? '' : 'Choose at least one member.');
    if (!name) { fields.nameInput.focus(); return null; }
    if (!members.size) { fields.memberInput.focus(); return null; }
    return post('/rooms', { type: 'group', name, member_ids: [...members.keys()] });
  }

  /** Puts a server error next to the field it is about, else next to Create. */
  function showServerError(err) {
    const about = JSON.stringify(err.details || {}) + err.code;
    let target = null;
    if (kind === 'direct') target = fields.user;
    else if (kind === 'channel') target = /topic/.test(about) ? fields.topic : /name/.test(about) ? fields.name : null;
    else target = /name/.test(about) && !/member/.test(about) ? fields.name : /member|user/.test(about) ? fields.mem : null;
    if (target) {
      target.setError(err.message);
      (target === fields.topic ? fields.topicInput : target === fields.name ? fields.nameInput : null)?.focus();
    } else {
      formError.textContent = err.message;
    }
  }

  const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.textContent = '';
    createBtn.disabled = true;
    try {
      const room = await (kind === 'direct' ? createDirect() : kind === 'channel' ? createChannel() : createGroup());
      if (room) { dlg.close(); onCreated(room); }
    } catch (err) {
      showServerError(err);
    } finally {
      createBtn.disabled = false;
    }
  });

  form.append(
    h('h2', { id: titleId }, 'New conversation'),
    h('fieldset', { class: 'kind' }, h('legend', {}, 'Type'),
      radio('direct', 'Direct', kind === 'direct'), radio('group', 'Group', kind === 'group'),
      radio('channel', 'Channel', kind === 'channel')),
    body, formError,
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'), createBtn));
  dlg.append(form);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  showKind(kind);
}

/** A modal showing every version of a message, oldest first. */
export async function openHistory(messageId) {
  const titleId = nextId('hist');
  const list = h('ol', { class: 'history' }, h('li', {}, 'Loading…'));
  const dlg = h('dialog', { class: 'modal', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, 'Message history'), list,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  try {
    const versions = await get(`/messages/${encodeURIComponent(messageId)}/history`);
    list.replaceChildren(...versions.map((v) => {
      const body = h('div', { class: 'body' });
      body.innerHTML = v.html; // sanitized by the server
      return h('li', {}, h('time', { datetime: v.created_at }, new Date(v.created_at).toLocaleString()), body);
    }));
  } catch (err) {
    list.replaceChildren(h('li', { class: 'field-error' }, err.message));
  }
}
