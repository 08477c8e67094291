// Same-origin REST client for /api/v1.
// Why a wrapper: every state-changing request must echo the parlour_csrf cookie in X-CSRF-Token,
// and every error body has the same {"error": {code, message, details}} shape worth parsing once.

const BASE = '/api/v1';
let loginCsrf = '';
let unauthorizedHandler = null;

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const err = body?.error || {};
    super(err.message || (status ? `Request failed (${status})` : 'Cannot reach the server'));
    this.status = status;
    this.code = err.code || (status ? 'http_error' : 'network_error');
    this.details = err.details || {};
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

/** Called on a 401 from any call but login: the session was revoked or expired. */
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

/** Login also returns the token; kept as a fallback if the cookie is not readable yet. */
export function rememberCsrf(token) { loginCsrf = token || ''; }

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)parlour_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : loginCsrf;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function api(method, path, body, params) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
  let res;
  try {
    res = await fetch(BASE + path + query(params), {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401 && path !== '/auth/login' && unauthorizedHandler) unauthorizedHandler();
    throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  }
  return data;
}

export const get = (path, params) => api('GET', path, undefined, params);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/**
 * Uploads one file as multipart field `file`. XMLHttpRequest rather than fetch because only XHR
 * reports upload progress. Returns {promise, abort}; the promise resolves to the attachment JSON.
 */
export function upload(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `${BASE}/attachments`);
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* non-JSON error page */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data, xhr.getResponseHeader('Retry-After')));
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.onabort = () => reject(new ApiError(0, { error: { code: 'aborted', message: 'Upload cancelled' } }));
    const form = new FormData();
    form.append('file', file);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
