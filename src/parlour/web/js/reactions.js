// Reactions, pins and saves of one message: the REST calls and the reaction chips.
// Each change shows at once (the store applies it like its event, which is idempotent), is undone
// if the server refuses, and the reason is told in an error toast, never swallowed.

import { h, nextId } from './dom.js';
import { del, put } from './api.js';
import * as store from './store.js';
import { toast } from './popups.js';
import { rememberEmoji } from './emoji.js';

const enc = encodeURIComponent;

export async function react(m, emoji, add) {
  const me = store.state.me.id;
  const mine = !!m.reactions?.find((r) => r.emoji === emoji)?.user_ids.includes(me);
  if (add) rememberEmoji(emoji);
  if (add === mine) return;
  store.applyReaction(m.room_id, m.id, emoji, me, add);
  try {
    await (add ? put : del)(`/messages/${enc(m.id)}/reactions/${enc(emoji)}`);
  } catch (err) {
    store.applyReaction(m.room_id, m.id, emoji, me, !add);
    toast(`Could not ${add ? 'add' : 'remove'} the reaction ${emoji}: ${err.message}`);
  }
}

export async function setPinned(m, pinned) {
  store.applyPinned(m.room_id, m.id, pinned);
  try {
    await (pinned ? put : del)(`/messages/${enc(m.id)}/pin`);
    store.emit('pins', m.room_id); // lists fetched before the server had it are refreshed
  } catch (err) {
    store.applyPinned(m.room_id, m.id, !pinned);
    toast(`Could not ${pinned ? 'pin' : 'unpin'} the message: ${err.message}`);
  }
}

export async function setSaved(m, saved) {
  store.applySaved(m.id, saved);
  try {
    await (saved ? put : del)(`/messages/${enc(m.id)}/save`);
    store.emit('saved', m.id);
  } catch (err) {
    store.applySaved(m.id, !saved);
    toast(`Could not ${saved ? 'save' : 'unsave'} the message: ${err.message}`);
  }
}

function listNames(names) {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** "You, Grace Hopper and Alan Turing reacted with": names from the store's users. */
function whoReacted(r) {
  const me = store.state.me.id;
  const ids = [...r.user_ids].sort((a, b) => (a === me ? -1 : b === me ? 1 : 0));
  const names = ids.map((id) => (id === me ? 'You' : store.user(id)?.full_name || 'someone'));
  const shown = names.length > 12 ? [...names.slice(0, 10), `${names.length - 10} others`] : names;
  return `${listNames(shown)} reacted with`;
}

// The tooltip opens to the right of its chip, or to the left when that would leave the log.
function fitTip(e) {
  const wrap = e.currentTarget;
  const tip = wrap.querySelector('.tip');
  const box = wrap.closest('.scroller') || document.body;
  wrap.classList.remove('tip-left');
  wrap.classList.add('tip-measure'); // laid out but unseen, so it has a width
  const wide = tip.getBoundingClientRect().width;
  wrap.classList.remove('tip-measure');
  const room = box.getBoundingClientRect().right - wrap.getBoundingClientRect().left;
  if (wide > room - 8) wrap.classList.add('tip-left');
}

// Esc hides the tooltip (and only that: the Chatbox stays open) until the chip loses focus.
function dismissTip(e) {
  if (e.key !== 'Escape' || e.currentTarget.classList.contains('tip-off')) return;
  e.preventDefault();
  e.stopPropagation();
  e.currentTarget.classList.add('tip-off');
}

function resetTip(e) { e.currentTarget.classList.remove('tip-off'); }

/**
 * The chips under a message: "🎉 2", pressed when one of them is mine (a click toggles mine).
 * Who reacted shows in a tooltip on hover and on keyboard focus, and is the chip's description.
 */
export function reactionChips(m) {
  if (m.deleted || !m.reactions?.length) return null;
  const me = store.state.me.id;
  return h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, m.reactions.map((r) => {
    const mine = r.user_ids.includes(me);
    const tipId = nextId('tip');
    return h('span', { class: 'reaction', onmouseenter: fitTip, onfocusin: fitTip, onkeydown: dismissTip, onfocusout: resetTip },
      h('button', {
        type: 'button', class: 'chip-react', 'aria-pressed': String(mine), 'aria-describedby': tipId,
        'data-fk': `r:${r.emoji}`, onclick: () => react(m, r.emoji, !mine),
      }, h('span', { class: 'emo-char' }, r.emoji), ' ', h('span', { class: 'n' }, String(r.count))),
      h('span', { class: 'tip', role: 'tooltip', id: tipId }, `${whoReacted(r)} `, h('span', { class: 'emo-char' }, r.emoji)));
  }));
}
