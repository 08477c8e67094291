// Pop-ups for new messages (role="status", named by the sender), the notification sound and the
// desktop Notification, each gated by the user's preferences. Also a generic toast for errors.

import { h, previewText } from './dom.js';
import * as store from './store.js';

const POPUP_MS = 10000;
const MAX_POPUPS = 4;
let region = null;
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
  // The room's notification level decides: all, only mentions of me, or nothing.
  if (!store.wantsNotice(m)) return;
  const room = store.state.rooms.get(m.room_id);
  const sender = m.author?.full_name || 'Someone';
  const where = room && room.type !== 'direct' ? store.roomName(room) : '';
  const text = prefs.message_preview ? previewText(m) : store.mentionsMe(m) ? 'Mentioned you' : 'New message';
  showPopup(sender, where, text, () => openRoom(m.room_id), store.mentionsMe(m));
  if (prefs.notification_sound) beep();
  if (prefs.desktop_notifications) desktopNotify(sender, where, text, m.room_id);
}

function showPopup(sender, where, text, onOpen, mention = false) {
  const titleId = `popup-title-${++popupSeq}`;
  let timer;
  const close = () => { clearTimeout(timer); el.remove(); };
  const arm = () => { clearTimeout(timer); timer = setTimeout(close, POPUP_MS); };
  // aria-labelledby makes the sender the accessible name of the status region.
  const el = h('div', { class: `popup${mention ? ' popup-mention' : ''}`, role: 'status', 'aria-labelledby': titleId },
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

/** A short beep; WebAudio needs no sound file. Browsers may block it until the first user gesture. */
export function beep() {
  try {
    audioCtx = audioCtx || new AudioContext();
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audioCtx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audioCtx.currentTime + 0.15);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start();
    osc.stop(audioCtx.currentTime + 0.16);
  } catch { /* no audio available */ }
}

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
