// DOM and formatting helpers shared by every view.
// h() is the only way views build elements: string children become text nodes, so room names,
// user names and filenames can never be interpreted as HTML. The one deliberate exception is the
// server-sanitized message `html`, which roomview/pages insert explicitly.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [props] attributes; `on*` functions become listeners
 * @param {...any} kids nodes, strings, numbers, nested arrays; null and false are skipped
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...kids) {
  /** @type {any} */
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

export function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let uid = 0;
/** Unique element ids for label/aria wiring. */
export const nextId = (prefix) => `${prefix}-${++uid}`;

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const first = parts[0]?.[0] || '?';
  const last = parts.length > 1 ? parts[parts.length - 1][0] : '';
  return (first + last).toUpperCase();
}

/**
 * A person's avatar: their picture (`avatar_url`, alt text their name) when they have one, else
 * their initials (decorative: the name is always printed next to it). `who` is a User or a name;
 * a picture that fails to load falls back to the initials. `status` adds the presence dot.
 */
export function avatar(who, status) {
  const name = typeof who === 'string' ? who : who?.full_name || '?';
  const url = typeof who === 'string' ? null : who?.avatar_url;
  const dot = status ? h('span', { class: `dot dot-${status}` }) : null;
  if (!url) return h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name), dot);
  const el = h('span', { class: 'avatar has-img' });
  const img = h('img', {
    src: url, alt: name, loading: 'lazy', decoding: 'async',
    onerror: () => {
      el.classList.remove('has-img');
      el.setAttribute('aria-hidden', 'true');
      img.replaceWith(document.createTextNode(initials(name)));
    },
  });
  el.append(img);
  if (dot) el.append(dot);
  return el;
}

/**
 * "BOT" after a bot's name (a user with `is_bot`: an integration, not a person), or null. Screen
 * readers hear "bot"; the letters are for the eye.
 */
export function botBadge(who) {
  return who?.is_bot ? h('span', { class: 'badge-bot', 'aria-label': 'bot', role: 'img' }, 'BOT') : null;
}

/** Messages from one person within this many ms of the previous one share a header. */
export const GROUP_MS = 5 * 60 * 1000;

/**
 * True when `m` continues the run of `prev` (same author, same day, within GROUP_MS, neither a
 * membership line): it is then shown without avatar and name, its time on hover.
 */
export function continuesRun(prev, m) {
  if (!prev || !m || prev.system || m.system) return false;
  if (!prev.author?.id || prev.author.id !== m.author?.id) return false;
  if ((prev.label || '') !== (m.label || '')) return false; // one webhook, two labels: two names
  const a = Date.parse(prev.created_at || '');
  const b = Date.parse(m.created_at || '');
  if (!a || !b || b - a < 0 || b - a >= GROUP_MS) return false;
  return new Date(a).toDateString() === new Date(b).toDateString();
}

/** A channel's avatar: its "#" mark (the name is printed beside it). */
export function channelAvatar() {
  return h('span', { class: 'avatar channel-avatar', 'aria-hidden': 'true' }, '#');
}

export function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();

export function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

export function fmtDay(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 864e5);
  if (sameDay(d, today)) return 'Today';
  if (sameDay(d, yesterday)) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/** Short "when" for lists: time today, date otherwise. */
export function fmtWhen(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return sameDay(d, new Date()) ? fmtTime(iso) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

export const STATUS_LABEL = { online: 'Online', away: 'Away', busy: 'Busy', offline: 'Offline' };

