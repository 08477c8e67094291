// DOM and formatting helpers shared by every view.
// h() is the only way views build elements: string children become text nodes, so room names,
// user names and filenames can never be interpreted as HTML. The one deliberate exception is the
// server-sanitized message `html`, which roomview/pages insert explicitly.

export function h(tag, props, ...kids) {
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

/** Initials avatar; decorative because the name is always printed next to it. */
export function avatar(name, status) {
  return h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name),
    status ? h('span', { class: `dot dot-${status}` }) : null);
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

/** Plain-text preview of a message for lists and pop-ups (never rendered as HTML). */
export function previewText(m) {
  if (!m) return '';
  if (m.deleted) return 'Message deleted';
  const text = (m.content || '').replace(/\s+/g, ' ').trim();
  if (text) return text.length > 140 ? `${text.slice(0, 139)}…` : text;
  if (m.attachments?.length) return `📎 ${m.attachments[0].filename}`;
  return '';
}
