// Pop-ups for new messages (role="status", named by the sender), the notification sound and the
// desktop Notification, each gated by the user's preferences. Also a generic toast for errors.
// A mention of me looks and sounds different: an "@" mark, "mentioned you", a rising two-note
// tone. With several tabs open only one of them speaks (tabs.js). The text is the message's
// plain text (msgtext.js), never its Markdown or html.

import { h } from './dom.js';
import * as store from './store.js';
import { speaksFor } from './tabs.js';
import { messagePreview } from './msgtext.js';

const POPUP_MS = 10000;
const MAX_POPUPS = 4;
let region = null;
/** @type {(roomId: string) => void} */
let openRoom = () => {};
let audioCtx = null;
let popupSeq = 0;

/** Mounts the pop-up region; `open(roomId)` is what clicking a pop-up does. */
export function mountPopups(open) {
  openRoom = open;
  region?.remove();
  region = h('div', { class: 'popups' });
  document.body.append(region);
  const off = store.on('message:new', notifyMessage);
  return () => { off(); region?.remove(); region = null; };
}

function notifyMessage(m) {
  const prefs = store.state.prefs;
  if (!prefs.enable_chat || m.author?.id === store.state.me?.id) return;
  if (m.system) return; // membership lines ("added Grace Hopper") never pop up or beep
  // The room's notification level decides: all, only mentions of me, or nothing.
  if (!store.wantsNotice(m)) return;
  // Another tab of mine may be the one to tell (the one looked at, or the leader).
  if (!speaksFor(m.room_id)) return;
  const room = store.state.rooms.get(m.room_id);
  const sender = m.label || m.author?.full_name || 'Someone'; // a webhook post goes by its label
  const where = room && room.type !== 'direct' ? store.roomName(room) : '';
  const mention = store.mentionsMe(m);
  const text = prefs.message_preview ? messagePreview(m) : mention ? 'Mentioned you' : 'New message';
  showPopup(sender, where, text, () => openRoom(m.room_id), mention);
  if (prefs.notification_sound) { if (mention) mentionTone(); else beep(); }
  if (prefs.desktop_notifications) desktopNotify(mention ? `${sender} mentioned you` : sender, where, text, m.room_id);
}

function showPopup(sender, where, text, onOpen, mention = false) {
  const titleId = `popup-title-${++popupSeq}`;
  let timer;
  const close = () => { clearTimeout(timer); el.remove(); };
  const arm = () => { clearTimeout(timer); timer = setTimeout(close, POPUP_MS); };
  // aria-labelledby makes the sender the accessible name of the status region.
  const el = h('div', { class: `popup${mention ? ' popup-mention' : ''}`, role: 'status', 'aria-labelledby': titleId },
    mention ? h('span', { class: 'popup-at', 'aria-hidden': 'true' }, '@') : null,
    h('button', { class: 'popup-open', type: 'button', onclick: () => { close(); onOpen(); } },
      h('strong', { id: titleId }, sender),
      mention ? h('span', { class: 'muted' }, where ? ` mentioned you in ${where}` : ' mentioned you')
        : where ? h('span', { class: 'muted' }, ` in ${where}`) : null,
      h('span', { class: 'popup-text' }, text)),
    h('button', { class: 'icon', type: 'button', 'aria-label': 'Dismiss', onclick: close }, '×'));
  // Keep it while the pointer or keyboard is on it, so it never vanishes under the user.
  el.addEventListener('mouseenter', () => clearTimeout(timer));
  el.addEventListener('mouseleave', arm);
  el.addEventListener('focusin', () => clearTimeout(timer));
  el.addEventListener('focusout', arm);
  region?.append(el);
  while (region && region.children.length > MAX_POPUPS) region.firstElementChild.remove();
  arm();
}

/** Notes one after another: [hz, seconds] each. WebAudio needs no sound file. */
function tone(notes) {
  try {
    audioCtx = audioCtx || new AudioContext();
    let at = audioCtx.currentTime;
    for (const [hz, secs] of notes) {
      const osc = audioCtx.createOscillator();
      const gain = audioCtx.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.08, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + secs);
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(at);
      osc.stop(at + secs + 0.01);
      at += secs + 0.03;
    }
  } catch { /* no audio available */ }
}

/** A short beep for a new message. Browsers may block sound until the first user gesture. */
export function beep() { tone([[880, 0.15]]); }

/** A mention of me: two rising notes, told apart from an ordinary message without looking. */
export function mentionTone() { tone([[660, 0.12], [988, 0.18]]); }

function desktopNotify(sender, where, text, roomId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(where ? `${sender} in ${where}` : sender, { body: text, tag: roomId });
    n.onclick = () => { window.focus(); openRoom(roomId); n.close(); };
  } catch { /* some platforms only allow notifications from a service worker */ }
}

/** Asks for permission when the user turns desktop notifications on (needs a user gesture). */
export async function requestDesktopPermission() {
  if (!('Notification' in window)) return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

/** Errors and notices not tied to a field. Errors use role=alert so they are announced at once. */
export function toast(text, kind = 'error') {
  if (!region) return;
  const el = h('div', { class: `popup toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'popup-text' }, text),
    h('button', { class: 'icon', type: 'button', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  region.append(el);
  setTimeout(() => el.remove(), 6000);
}
