// Parlour's service worker (served as /sw.js, so its scope is the whole app). It does two things:
// shows the server's Web Push messages as notifications, and opens the room of one that is clicked.
//
// It has no fetch handler on purpose: every request (the app shell, the API, the socket) goes to
// the network exactly as without a worker, and nothing is cached, so the app can never show an
// old copy of a room as if it were current. (Installability does not need one either.)

const ICON = '/static/icons/icon-192.png';

// A new version takes over at once: it holds no state and no cache to migrate.
self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

/** The push's JSON payload `{room_id, message_id, title, body}`, or null if it is not one. */
function payloadOf(event) {
  if (!event.data) return null;
  try {
    const data = event.data.json();
    return data && typeof data === 'object' ? data : null;
  } catch {
    return null;
  }
}

self.addEventListener('push', (event) => {
  const data = payloadOf(event);
  const roomId = data && typeof data.room_id === 'string' ? data.room_id : '';
  const title = (data && typeof data.title === 'string' && data.title) || 'New message';
  const options = {
    body: data && typeof data.body === 'string' ? data.body : '',
    icon: ICON,
    // One notification per room: a newer message replaces the older one (and alerts again).
    tag: roomId || 'parlour',
    renotify: !!roomId,
    data: { room_id: roomId || null, message_id: (data && data.message_id) || null },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

/** The app's own window (its page is "/"; other pages in scope, like the unsubscribe page, are not). */
async function appWindow() {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const ours = windows.filter((c) => {
    const url = new URL(c.url);
    return url.origin === self.location.origin && url.pathname === '/';
  });
  return ours.find((c) => c.focused) || ours.find((c) => c.visibilityState === 'visible') || ours[0] || null;
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const roomId = event.notification.data && event.notification.data.room_id;
  const path = roomId ? `/#/room/${encodeURIComponent(roomId)}` : '/';
  event.waitUntil((async () => {
    const client = await appWindow();
    if (!client) {
      await self.clients.openWindow(path);
      return;
    }
    // The page routes by its hash: tell it which room to open (no reload, nothing typed is lost);
    // app.js listens for this message.
    if (roomId) client.postMessage({ type: 'parlour.open-room', room_id: roomId });
    await client.focus();
  })());
});
