// The reaction picker: a small modal dialog named "React" with my frequently used emoji, a search
// box and the whole list from GET /emoji.json (emoji as text; no images, no CDN). Every emoji is a
// button named by the emoji itself, its name as tooltip. Arrow keys move within a grid, Enter in
// the search box picks the first match, Esc closes.

import { h, nextId } from './dom.js';
import * as store from './store.js';

const DEFAULTS = ['👍', '❤️', '😂', '🎉', '👀', '🙏', '✅', '🔥'];
const COLUMNS = 8; // matches .emo-grid in app.css (arrow keys move by a row)
const RECENT_KEEP = 24;
const phone = window.matchMedia('(max-width: 640px)');

let catalog = null; // Promise<[[emoji, name]]>, sorted for browsing
const names = new Map(); // emoji -> name

// The server lists emoji alphabetically by name; browsing is friendlier in the usual groups:
// faces first, then hands, hearts, people, nature, food, activities, the rest, keycaps, flags.
/** @type {[number, [number, number][]][]} [group, its code point ranges (first, last)] */
const GROUPS = [
  [0, [[0x1F600, 0x1F644], [0x1F910, 0x1F917], [0x1F920, 0x1F92F], [0x1F970, 0x1F97A], [0x1FAE0, 0x1FAE8],
    [0x263A, 0x263A], [0x2639, 0x2639], [0x1F9D0, 0x1F9D0], [0x1F47B, 0x1F47D], [0x1F480, 0x1F480], [0x1F4A9, 0x1F4A9]]],
  [1, [[0x1F446, 0x1F450], [0x1F590, 0x1F596], [0x1F918, 0x1F91F], [0x1FAF0, 0x1FAF8], [0x270A, 0x270D],
    [0x1F645, 0x1F64F], [0x1F932, 0x1F932], [0x1F4AA, 0x1F4AA]]],
  [2, [[0x2764, 0x2764], [0x1F493, 0x1F49F], [0x1F5A4, 0x1F5A4], [0x1F90D, 0x1F90E], [0x1F9E1, 0x1F9E1],
    [0x1FA75, 0x1FA77], [0x1F48B, 0x1F48B], [0x1F4A2, 0x1F4AB], [0x1F4AF, 0x1F4AF]]],
  [3, [[0x1F466, 0x1F487], [0x1F9D1, 0x1F9DF], [0x1F934, 0x1F93E], [0x1F574, 0x1F57A], [0x1F6B4, 0x1F6B6]]],
  [4, [[0x1F400, 0x1F43F], [0x1F980, 0x1F9AE], [0x1F330, 0x1F344], [0x1FAB0, 0x1FABF], [0x1F490, 0x1F490]]],
  [5, [[0x1F345, 0x1F37F], [0x1F950, 0x1F96F], [0x1F9C0, 0x1F9CB], [0x1FAD0, 0x1FADF]]],
  [6, [[0x1F380, 0x1F3D3], [0x26BD, 0x26BE], [0x1F93F, 0x1F94F]]],
];

/** [group, place of the range within it]: ranges are listed in browsing order (😀 before ☺). */
function group(e) {
  const c = e.codePointAt(0);
  if (c >= 0x1F1E6 && c <= 0x1F1FF) return [9, 0];
  if (c === 0x1F3F4 && e.length > 2) return [9, 1]; // subdivision flags
  if (e.includes('\u20E3')) return [8, 0];
  for (const [g, ranges] of GROUPS) {
    const i = ranges.findIndex(([a, b]) => c >= a && c <= b);
    if (i >= 0) return [g, i];
  }
  return [7, 0];
}

function sortForBrowsing(list) {
  const keyed = list.map(([e, name]) => [...group(e), e.codePointAt(0), e, name]);
  keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3].length - b[3].length || (a[3] < b[3] ? -1 : 1));
  return keyed.map(([, , , e, name]) => [e, name]);
}

/** The picker's list, fetched once per page load (the server lets browsers cache it a day). */
export function loadCatalog() {
  catalog = catalog || fetch('/emoji.json', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((res) => {
      if (!res.ok) throw new Error(`Could not load the emoji list (${res.status})`);
      return res.json();
    })
    .then((list) => {
      for (const [e, name] of list) names.set(e, name);
      return sortForBrowsing(list);
    })
    .catch((err) => { catalog = null; throw err; });
  return catalog;
}

/** "party popper" for 🎉 once the list is loaded; a :short_name: reads as its words. */
export function emojiName(e) {
  if (names.has(e)) return names.get(e);
  return /^:.+:$/.test(e) ? e.slice(1, -1).replace(/_/g, ' ') : '';
}

// ---- recently used, per user, in localStorage -----------------------------------------------------

const recentKey = () => `parlour.emoji.recent.${store.state.me?.id}`;

function recent() {
  try {
    const list = JSON.parse(localStorage.getItem(recentKey()) || '[]');
    return Array.isArray(list) ? list.filter((e) => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberEmoji(e) {
  const list = [e, ...recent().filter((x) => x !== e)].slice(0, RECENT_KEEP);
  try { localStorage.setItem(recentKey(), JSON.stringify(list)); } catch { /* full or private */ }
}

/** One row: what I used lately, topped up with the usual favourites. */
export function frequentEmoji() {
  return [...new Set([...recent(), ...DEFAULTS])].slice(0, COLUMNS);
}

// ---- the picker ---------------------------------------------------------------------------------

/** Words of the query each found in the name ("face tears" finds 😂); an emoji finds itself. */
function matcher(q) {
  const words = q.toLowerCase().replace(/:/g, ' ').split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  return (e, name) => e === q.trim() || words.every((w) => name.includes(w));
}

/**
 * Opens the picker next to `anchor` (a bottom sheet on a phone). onPick(emoji) runs after it
 * closed; onClose() runs in every case. Returns a function that closes it.
 */
export function openEmojiPicker(anchor, { onPick, onClose }) {
  const searchId = nextId('emo-search');
  const recentHead = nextId('emo-h');
  const allHead = nextId('emo-h');
  const search = h('input', {
    id: searchId, type: 'text', class: 'emo-search', placeholder: 'Search emoji', 'aria-label': 'Search emoji',
    autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'done',
  });
  const button = (e, name) => h('button', {
    type: 'button', class: 'emo', title: name || null, tabindex: '-1', 'data-emoji': e,
  }, e);
  const recentGrid = h('div', { class: 'emo-grid', role: 'group', 'aria-labelledby': recentHead },
    frequentEmoji().map((e) => button(e, emojiName(e))));
  const recentPart = h('div', {}, h('h3', { id: recentHead, class: 'emo-head' }, 'Frequently used'), recentGrid);
  const allTitle = h('h3', { id: allHead, class: 'emo-head' }, 'All emoji');
  const allGrid = h('div', { class: 'emo-grid', role: 'group', 'aria-labelledby': allHead });
  const note = h('p', { class: 'muted emo-note', 'aria-live': 'polite' }, 'Loading emoji…');
  const scroll = h('div', { class: 'emo-scroll' }, recentPart, allTitle, allGrid, note);
  const dlg = h('dialog', { class: 'picker', 'aria-label': 'React' }, search, scroll);
  let allButtons = [];
  let closed = false;
  let enterPending = false; // Enter typed before the list arrived: pick the first match then

  const visible = (grid) => [...grid.children].filter((b) => !b.hidden);

  /** One Tab stop per grid: the first visible button, or the one last moved to. */
  function rove(grid, to) {
    const shown = visible(grid);
    const target = to || shown.find((b) => b.tabIndex === 0) || shown[0];
    for (const b of grid.children) b.tabIndex = b === target ? 0 : -1;
    return target;
  }

  function filter() {
    const match = matcher(search.value);
    recentPart.hidden = !!match;
    let count = 0;
    for (const b of allButtons) {
      const show = !match || match(b.dataset.emoji, b.title.toLowerCase());
      b.hidden = !show;
      if (show) count += 1;
    }
    allTitle.textContent = match ? 'Search results' : 'All emoji';
    allTitle.hidden = match ? !count : false;
    note.textContent = match && !count ? `No emoji match “${search.value.trim()}”.` : '';
    for (const b of /** @type {HTMLCollectionOf<HTMLElement>} */ (allGrid.children)) b.tabIndex = -1;
    rove(allGrid);
    scroll.scrollTop = 0;
  }

  function pickFirst() {
    const first = search.value.trim() ? visible(allGrid)[0] : null;
    if (first) close(first.dataset.emoji);
  }

  function close(picked) {
    if (closed) return;
    closed = true;
    dlg.close();
    dlg.remove();
    onClose?.();
    if (picked) onPick(picked);
  }

  loadCatalog().then((list) => {
    if (closed) return;
    allButtons = list.map(([e, name]) => button(e, name));
    allGrid.replaceChildren(...allButtons);
    for (const b of /** @type {HTMLCollectionOf<HTMLElement>} */ (recentGrid.children)) {
      if (!b.title) b.title = emojiName(b.dataset.emoji);
    }
    note.textContent = '';
    filter();
    if (enterPending) pickFirst();
  }).catch((err) => { note.textContent = err.message; });

  search.addEventListener('input', filter);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (allButtons.length) pickFirst(); else enterPending = true;
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      rove(recentPart.hidden ? allGrid : recentGrid)?.focus();
    }
  });

  dlg.addEventListener('click', (e) => {
    /** @type {HTMLElement | null} */
    const b = /** @type {Element} */ (e.target).closest('button.emo');
    if (b) { close(b.dataset.emoji); return; }
    // The (transparent) backdrop belongs to the dialog: a click outside its box closes it.
    const r = dlg.getBoundingClientRect();
    if (e.target === dlg && (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom)) close();
  });

  dlg.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault(); // handled here: not the Chatbox's Esc, and the search box keeps no state
      e.stopPropagation();
      close();
      return;
    }
    /** @type {HTMLElement | null} */
    const b = /** @type {Element} */ (e.target).closest?.('button.emo');
    if (!b) return;
    const grid = b.parentElement;
    const shown = visible(grid);
    const i = shown.indexOf(b);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS }[e.key];
    let j = null;
    if (step) j = i + step;
    if (e.key === 'Home') j = 0;
    if (e.key === 'End') j = shown.length - 1;
    if (j == null) return;
    e.preventDefault();
    if (j < 0 && grid === allGrid && !recentPart.hidden) { rove(recentGrid).focus(); return; }
    if (j < 0) { search.focus(); return; }
    if (j >= shown.length && grid === recentGrid) { rove(allGrid)?.focus(); return; }
    rove(grid, shown[Math.min(j, shown.length - 1)]).focus();
  });
  dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(); });

  document.body.append(dlg);
  dlg.showModal();
  rove(recentGrid);
  place(dlg, anchor);
  search.focus();
  return () => close();
}

/** Beside the anchor, above it when there is room, kept inside the window; CSS makes it a sheet on phones. */
function place(dlg, anchor) {
  if (phone.matches || !anchor) return;
  const a = anchor.getBoundingClientRect();
  const d = dlg.getBoundingClientRect();
  const gap = 6;
  const margin = 8;
  let top = a.top - d.height - gap;
  if (top < margin) top = a.bottom + gap;
  top = Math.max(margin, Math.min(top, window.innerHeight - d.height - margin));
  const left = Math.max(margin, Math.min(a.right - d.width, window.innerWidth - d.width - margin));
  dlg.style.top = `${Math.round(top)}px`;
  dlg.style.left = `${Math.round(left)}px`;
}
