// One tab speaks for all: with several tabs of the same user open, a new message makes one pop-up,
// one sound and one desktop notification. Every tab receives every event (each has its own socket,
// so unread counts stay right everywhere); only the *speaker* tells the user.
//
// Tabs tell each other their state over a BroadcastChannel (on every change and every few
// seconds): how visible they are (focused and visible, visible, hidden), since when, and which
// room they are reading. For a message in room R:
//   1. a tab reading R (open, focused, visible) shows it in place, so no tab pops up;
//   2. else the tab the user looks at speaks: the focused visible one, else a visible one (the
//      most recent to become so);
//   3. else (all hidden) the leader speaks: the holder of a Web Lock held for the tab's life
//      (navigator.locks; the next tab gets it when the leader closes or crashes). Without Web Locks
//      (plain-http sites are no secure context) the oldest live tab leads.
// Without BroadcastChannel a tab knows of no other and speaks for itself.

const HEARTBEAT_MS = 3000;
const EXPIRE_MS = 10000; // a tab not heard from for this long is gone (closed without a word)
const POLL_MS = 1000; // how often a tab looks at its own state (a room opened or closed, focus)

const tabId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
const self = { id: tabId, born: Date.now(), level: -1, since: 0, reading: [], leader: false };
const others = new Map(); // tab id -> {state, heard}
let channel = null;
let readingRooms = () => [];
let lockAbort = null;
let releaseLock = null;
let usesLocks = false;
let timers = [];
let lastSent = '';
let offs = [];

const level = () => (document.visibilityState !== 'visible' ? 0 : document.hasFocus() ? 2 : 1);

function refresh() {
  const lv = level();
  if (lv !== self.level) { self.level = lv; self.since = Date.now(); }
  try { self.reading = lv > 0 ? [...(readingRooms() || [])] : []; } catch { self.reading = []; }
}

function announce(force = false) {
  refresh();
  const text = JSON.stringify(self);
  if (!channel || (!force && text === lastSent)) return;
  lastSent = text;
  try { channel.postMessage({ type: 'state', state: { ...self } }); } catch { /* closed */ }
}

function onMessage(e) {
  const msg = e.data || {};
  if (msg.type === 'state' && msg.state?.id && msg.state.id !== tabId) {
    const known = others.has(msg.state.id);
    others.set(msg.state.id, { state: msg.state, heard: Date.now() });
    if (!known) announce(true); // a newcomer learns of us at once
  } else if (msg.type === 'bye') {
    others.delete(msg.id);
  } else if (msg.type === 'hello' && msg.id !== tabId) {
    announce(true);
  }
}

/** The live tabs as this one knows them, itself included (fresh). */
function liveTabs() {
  refresh();
  const now = Date.now();
  const tabs = [self];
  for (const [id, o] of others) {
    if (now - o.heard > EXPIRE_MS) others.delete(id); else tabs.push(o.state);
  }
  return tabs;
}

const later = (a, b) => (b.level > a.level || (b.level === a.level && (b.since > a.since || (b.since === a.since && b.id < a.id))) ? b : a);
const older = (a, b) => (b.born < a.born || (b.born === a.born && b.id < a.id) ? b : a);

/** Should this tab pop up, beep and notify for a new message of `roomId`? */
export function speaksFor(roomId) {
  const tabs = liveTabs();
  if (tabs.some((t) => t.id !== tabId && t.reading?.includes(roomId))) return false;
  const shown = tabs.filter((t) => t.level > 0);
  if (shown.length) return shown.reduce(later).id === tabId;
  if (usesLocks) return self.leader;
  return tabs.reduce(older).id === tabId;
}

export const isLeader = () => (usesLocks ? self.leader : liveTabs().reduce(older).id === tabId);

/**
 * Starts taking part for user `userId`; reading() lists the rooms this tab is reading now.
 * Returns the function that stops (logout): the lock is released and the others told.
 */
export function startTabs(userId, { reading }) {
  stopTabs();
  readingRooms = reading;
  self.leader = false;
  lastSent = '';
  if (typeof BroadcastChannel === 'function') {
    channel = new BroadcastChannel(`parlour.tabs.${userId}`);
    channel.onmessage = onMessage;
  }
  usesLocks = !!navigator.locks?.request;
  if (usesLocks) {
    lockAbort = new AbortController();
    navigator.locks.request(`parlour.leader.${userId}`, { signal: lockAbort.signal }, () => {
      self.leader = true;
      announce(true);
      return new Promise((resolve) => { releaseLock = resolve; });
    }).catch(() => { /* aborted: this tab stopped before it led */ });
  }
  const update = () => announce();
  const bye = () => { try { channel?.postMessage({ type: 'bye', id: tabId }); } catch { /* closed */ } };
  /** @type {Array<[EventTarget, string]>} */
  const events = [[window, 'focus'], [window, 'blur'], [document, 'visibilitychange'], [window, 'hashchange'], [window, 'pageshow']];
  for (const [target, name] of events) target.addEventListener(name, update);
  window.addEventListener('pagehide', bye);
  offs = [
    () => { for (const [target, name] of events) target.removeEventListener(name, update); },
    () => window.removeEventListener('pagehide', bye),
  ];
  timers = [setInterval(update, POLL_MS), setInterval(() => announce(true), HEARTBEAT_MS)];
  try { channel?.postMessage({ type: 'hello', id: tabId }); } catch { /* closed */ }
  announce(true);
  return stopTabs;
}

export function stopTabs() {
  timers.forEach(clearInterval);
  timers = [];
  offs.forEach((off) => off());
  offs = [];
  lockAbort?.abort();
  lockAbort = null;
  releaseLock?.();
  releaseLock = null;
  self.leader = false;
  if (channel) {
    try { channel.postMessage({ type: 'bye', id: tabId }); } catch { /* closed */ }
    channel.close();
    channel = null;
  }
  others.clear();
}
