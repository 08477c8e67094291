// The few browser globals the store touches, so its modules run in plain Node (no DOM, no jsdom):
// a Map-backed localStorage/sessionStorage, `document.cookie` (api.js reads the CSRF cookie) and a
// `fetch` that answers from a handler the test sets and records every request.
// Import this before any module of src/parlour/web/js.

class MemoryStorage {
  #items = new Map();
  get length() { return this.#items.size; }
  key(i) { return [...this.#items.keys()][i] ?? null; }
  getItem(k) { return this.#items.has(String(k)) ? this.#items.get(String(k)) : null; }
  setItem(k, v) { this.#items.set(String(k), String(v)); }
  removeItem(k) { this.#items.delete(String(k)); }
  clear() { this.#items.clear(); }
}

function define(name, value) {
  // Newer Node versions have their own (file-backed) localStorage: always use ours.
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}

define('localStorage', new MemoryStorage());
define('sessionStorage', new MemoryStorage());
if (!globalThis.document) define('document', { cookie: '' });

/** Every request made through fetch: {method, path (without /api/v1 and the query), query, body}. */
export const requests = [];

let handler = () => ({ status: 404, body: { error: { code: 'not_found', message: 'Not found' } } });

/** Sets how fetch answers: fn(method, path, body, query) -> {status = 200, body}. */
export function respond(fn) { handler = fn; }

define('fetch', async (url, init = {}) => {
  const [path, query = ''] = String(url).replace(/^\/api\/v1/, '').split('?');
  const method = init.method || 'GET';
  const body = init.body === undefined ? undefined : JSON.parse(init.body);
  requests.push({ method, path, query, body });
  const { status = 200, body: answer = null } = handler(method, path, body, query) || {};
  return new Response(status === 204 ? null : JSON.stringify(answer), {
    status, headers: { 'Content-Type': 'application/json' },
  });
});

/** Resets storage, recorded requests and the fetch handler between tests. */
export function resetGlobals() {
  localStorage.clear();
  sessionStorage.clear();
  requests.length = 0;
  respond(() => ({ status: 404, body: { error: { code: 'not_found', message: 'Not found' } } }));
}

/** Lets pending promise chains (a stubbed fetch and what follows it) run to their end. */
export async function settle() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
