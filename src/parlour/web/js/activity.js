// Automatic Away from real activity. The server shows a person whose status is "online"
// (automatic) as Away once it has heard nothing from them for a while (presence_away_seconds,
// 5 minutes by default); sending, typing and reading over the socket count as activity, a ping
// does not. Someone reading along with the mouse sends none of those, so this module reports
// input in a visible tab (mousemove, pointerdown, keydown, wheel, scroll, touchstart; throttled)
// as a `read` frame that repeats a read pointer the server already has: it moves nothing, sends
// no event, and counts as activity (the contract's socket frames have no other way to say so).
// Reports go out at most every REPORT_MS while active, and at once when the user comes back while
// shown as Away.
// My own status menu shows what others see: presence.updated never reaches the person it is about,
// so after IDLE_CHECK_MS without input (then every CHECK_EVERY_MS while idle), when the tab becomes
// visible, and just after coming back, a visible tab asks GET /users/me (the effective status).
// An active person costs no request at all.

import * as store from './store.js';
import * as socket from './socket.js';
import { get } from './api.js';

const REPORT_MS = 60000; // well inside the server's 5 minutes
const IDLE_CHECK_MS = 30000;
const CHECK_EVERY_MS = 60000;
const SOON_MS = 1000; // after a report: the server has counted it by then
const EVENTS = ['mousemove', 'pointerdown', 'keydown', 'wheel', 'scroll', 'touchstart'];

let lastReport = 0;
let reportedAway = false; // one report per Away spell: the Away may be my own choice
let lastSeenInput = 0;
let checkTimer = 0;
let soonPending = false; // a check just after coming back: input meanwhile must not put it off
let soonTries = 0; // the server may take a moment to count the report: look again a few times

function scheduleCheck(ms, soon = false) {
  if (soonPending && !soon) return;
  soonPending = soon;
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkStatus, ms);
}

/** Shows my effective status (what others see) in my own menu and avatar. */
async function checkStatus() {
  checkTimer = 0;
  const soon = soonPending;
  soonPending = false;
  const me = store.state.me;
  if (!me) return;
  let shown = null;
  if (document.visibilityState === 'visible') {
    try {
      const now = await get('/users/me');
      shown = now?.id === me.id ? now.status : null;
      if (shown && shown !== store.state.me?.status) store.setPresence(me.id, shown, now.last_seen_at);
    } catch { /* offline or logged out: the next check, or the session's end, deals with it */ }
  }
  if (store.state.me !== me) return;
  if (soon && shown === 'away' && soonTries < 3) {
    soonTries += 1;
    scheduleCheck(SOON_MS * 2 ** soonTries, true); // before any later check input asked for
  } else if (!checkTimer) {
    const idleFor = Date.now() - lastSeenInput; // idle on: look again in a while
    scheduleCheck(idleFor >= IDLE_CHECK_MS ? CHECK_EVERY_MS : IDLE_CHECK_MS - idleFor);
  }
}

/**
 * [room, message id] whose reading changes nothing: a read pointer I already have (the server never
 * moves one back), else the last message of a room with nothing unread.
 */
function anchor() {
  let known = null;
  let quiet = null;
  for (const room of store.state.rooms.values()) {
    if (room.last_read_message_id) {
      if (!known || store.roomActivity(room) > store.roomActivity(known)) known = room;
    } else if (!room.unread_count && room.last_message?.id && !room.last_message.reply_to) {
      quiet = quiet || room;
    }
  }
  if (known) return [known.id, known.last_read_message_id];
  return quiet ? [quiet.id, quiet.last_message.id] : null;
}

function report() {
  const found = anchor();
  if (!found) return false;
  return socket.send({ type: 'read', room_id: found[0], message_id: found[1] });
}

function onInput() {
  if (document.visibilityState !== 'visible') return;
  const now = Date.now();
  if (now - lastSeenInput < 250) return; // mousemove fires by the hundred: look at most 4 times a second
  lastSeenInput = now;
  const away = store.state.me?.status === 'away';
  let soon = false;
  if (now - lastReport >= REPORT_MS || (away && !reportedAway)) {
    if (report()) {
      lastReport = now;
      if (away) { reportedAway = true; soon = true; soonTries = 0; }
    }
  }
  if (soon) scheduleCheck(SOON_MS, true); else scheduleCheck(IDLE_CHECK_MS); // idle from now on: look later
}

function onVisible() {
  if (document.visibilityState === 'visible') scheduleCheck(SOON_MS, true);
}

/** Starts watching this tab's input; returns the function that stops. */
export function startActivity() {
  lastReport = 0;
  reportedAway = false;
  const opts = { capture: true, passive: true };
  for (const name of EVENTS) window.addEventListener(name, onInput, opts);
  window.addEventListener('focus', onInput);
  document.addEventListener('visibilitychange', onVisible);
  lastSeenInput = Date.now();
  scheduleCheck(IDLE_CHECK_MS);
  const offPresence = store.on('presence', (id) => { if (id === store.state.me?.id) reportedAway = false; });
  const offMe = store.on('me', () => { reportedAway = false; });
  return () => {
    for (const name of EVENTS) window.removeEventListener(name, onInput, opts);
    window.removeEventListener('focus', onInput);
    document.removeEventListener('visibilitychange', onVisible);
    clearTimeout(checkTimer);
    checkTimer = 0;
    soonPending = false;
    offPresence();
    offMe();
  };
}
