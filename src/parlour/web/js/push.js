// The service worker (/sw.js) and this browser's Web Push subscription. The worker only shows
// pushes and opens their room on a click (it caches nothing); the subscription is made from
// Preferences (Enable push notifications) and told to the server, whose id is kept per user in
// localStorage (`parlour.push.<user id>`) so that Disable can delete it.

import { del, get, post } from './api.js';

const OPEN_ROOM = 'parlour.open-room';

/** True when this browser can take pushes (a secure context with service workers and the Push API). */
export function pushSupported() {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * A clicked notification asks the app's window to open its room (sw.js posts `parlour.open-room`):
 * onOpenRoom(id) then routes there. Listened to for the page's life, logged in or not (the route
 * waits for the login).
 */
export function listenToWorker(onOpenRoom) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === OPEN_ROOM && typeof e.data.room_id === 'string') onOpenRoom(e.data.room_id);
  });
  navigator.serviceWorker.startMessages();
}

/** Registers /sw.js (after login); browsers without service workers, or plain-http pages, skip it. */
export function registerWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  // A failed registration (a blocked worker, an old browser) only means no pushes: never an error.
  navigator.serviceWorker.register('/sw.js').catch(() => {});
}

const idKey = (userId) => `parlour.push.${userId}`;

function savedId(userId) {
  try { return localStorage.getItem(idKey(userId)); } catch { return null; }
}

function saveId(userId, id) {
  try {
    if (id) localStorage.setItem(idKey(userId), id); else localStorage.removeItem(idKey(userId));
  } catch { /* storage full or disabled: Disable then only unsubscribes the browser */ }
}

/** base64url → bytes (the VAPID key as `applicationServerKey`). */
export function base64UrlBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** Whether pushes are on for me in this browser: a subscription here and its id from the server. */
export async function pushIsOn(userId) {
  if (!pushSupported() || Notification.permission !== 'granted' || !savedId(userId)) return false;
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = await reg?.pushManager.getSubscription();
  return !!sub;
}

export class PushError extends Error {
  /** @param {'unsupported' | 'denied' | 'dismissed' | 'browser'} reason */
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Asks for permission, subscribes this browser with the server's VAPID key and tells the server.
 * Throws PushError (the browser's side) or ApiError (the server refused: its message says why).
 */
export async function enablePush(userId) {
  if (!pushSupported()) throw new PushError('unsupported', 'This browser cannot receive push notifications.');
  const permission = await Notification.requestPermission();
  if (permission === 'denied') throw new PushError('denied', 'Notifications are blocked for this site. Allow them in the browser’s site settings, then try again.');
  if (permission !== 'granted') throw new PushError('dismissed', 'Push notifications need your permission. Choose Allow when the browser asks.');
  let reg;
  try {
    await navigator.serviceWorker.register('/sw.js');
    reg = await navigator.serviceWorker.ready;
  } catch (err) {
    throw new PushError('browser', `This browser could not start Parlour’s service worker${err?.message ? `: ${err.message}` : '.'}`);
  }
  const { public_key: key } = await get('/push/key');
  const options = { userVisibleOnly: true, applicationServerKey: base64UrlBytes(key) };
  const refused = (err) => new PushError('browser', `This browser could not subscribe to push notifications${err?.message ? `: ${err.message}` : '.'}`);
  let sub;
  try {
    sub = await reg.pushManager.subscribe(options);
  } catch (err) {
    // InvalidStateError: a subscription made with another server key (a new VAPID key); replace it.
    const old = await reg.pushManager.getSubscription().catch(() => null);
    if (!old) throw refused(err);
    await old.unsubscribe().catch(() => false);
    sub = await reg.pushManager.subscribe(options).catch((again) => { throw refused(again); });
  }
  try {
    const { id } = await post('/push/subscriptions', sub.toJSON());
    saveId(userId, id);
  } catch (err) {
    // The server will not push to it: do not leave a subscription nobody uses.
    await sub.unsubscribe().catch(() => false);
    throw err;
  }
}

/** At logout: no more pushes of mine to this browser (someone else may use it next). */
export async function forgetPush(userId) {
  if (!savedId(userId)) return;
  try { await disablePush(userId); } catch { /* the server drops it at its first failed push */ }
}

/**
 * Stops pushes to this browser: unsubscribes it and deletes the server's copy (a copy already gone
 * is fine). Errors from the server are thrown after the browser's side is done.
 */
export async function disablePush(userId) {
  const id = savedId(userId);
  saveId(userId, null);
  if (pushSupported()) {
    const reg = await navigator.serviceWorker.getRegistration('/');
    const sub = await reg?.pushManager.getSubscription();
    await sub?.unsubscribe().catch(() => false);
  }
  if (!id) return;
  try {
    await del(`/push/subscriptions/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
  }
}
