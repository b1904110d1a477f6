// The admin API (/admin/..., docs/operations.md), the same one
// `postbox-admin --server` uses: the console has no other way to change
// anything. The login is a cookie the server sets (HttpOnly: no script sees
// it) plus the CSRF token the login returned, kept only in `login.csrf`; every
// request other than GET/HEAD carries it in X-CSRF-Token.

export const login = { csrf: null };  // null: logged out

let onUnauthorized = () => {};
// `fn(message)` runs when a request other than the login itself gets a 401:
// the login has expired or was forgotten.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;  // the HTTP status; 0 when the server was not reached
    this.handled = false;  // true once the 401 handler took care of it
  }
}

// One request; the parsed JSON answer (null for none). A non-2xx answer
// throws ApiError(status, the answer's "error").
export async function api(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
    headers: { Accept: 'application/json' },
  };
  if (method !== 'GET' && method !== 'HEAD' && login.csrf) init.headers['X-CSRF-Token'] = login.csrf;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'the server cannot be reached (' + e.message + ')');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const message = data && typeof data.error === 'string' ? data.error
                                                           : res.statusText || 'request failed';
    const err = new ApiError(res.status, message);
    if (res.status === 401 && path !== '/admin/login') {
      err.handled = true;
      onUnauthorized(`Your login has ended (error 401: ${message}). Log in again.`);
    }
    throw err;
  }
  return data;
}

// A path segment: mailbox keys and ids go into paths only through this.
export const seg = (value) => encodeURIComponent(String(value));
