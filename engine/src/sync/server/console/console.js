// postbox-server's web console (docs/operations.md "Web console"): the entry
// module, with the login and the hash router.
//
// Plain JavaScript modules, no framework and no build step, served by the
// server from files built into it. The page runs under
//   default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'
// so everything shown is built with createElement/textContent (dom.js), never
// parsed from markup; charts are SVG elements made the same way (health.js);
// colours come from classes in console.css.
//
//   api.js        the admin API: fetch, the CSRF header, errors, 401
//   dom.js        elements, formats, the status and error messages
//   mailboxes.js  Mailboxes and one mailbox: list, search, create, connections, delete
//   sessions.js   Sessions: who is connected, viewers, kick
//   health.js     Health: charts of /admin/health
//
// The admin token is read from the password field once, sent in the body of
// POST /admin/login, and dropped: the login is then the server's HttpOnly
// cookie plus the CSRF token in api.js's `login.csrf`. Nothing goes to
// localStorage, sessionStorage or a URL.

import { api, login, setUnauthorizedHandler } from './api.js';
import { $, clearMessages, errorText, setStatus, showError } from './dom.js';
import { forgetHealth, loadHealth } from './health.js';
import { forgetMailboxes, hideCreated, initMailboxes, loadMailbox, loadMailboxes }
    from './mailboxes.js';
import { forgetSessions, initSessions, loadSessions } from './sessions.js';

// The pages by the hash that shows them (#mailboxes, #mailbox/MKEY, #sessions,
// #health); a page with `poll` reloads every `poll` ms while it is shown and
// the browser tab is visible.
const PAGES = {
  mailboxes: { title: 'Mailboxes', load: () => loadMailboxes() },
  mailbox: { title: 'Mailbox', load: (r) => loadMailbox(r.mkey) },
  sessions: { title: 'Sessions', load: (r, still) => loadSessions(still), poll: 3000 },
  health: { title: 'Health', load: (r, still) => loadHealth(still), poll: 2000 },
};

let route = null;      // {page, mkey?} shown now; null when logged out
let pollTimer = null;
let pollSerial = 0;    // bumps on every page change: a stale load or poll stops
let pendingStatus = '';  // shown by the next page change (navigate)

// ---- Pages and the hash router -----------------------------------------------------

function parseHash() {
  let h = '';
  try {
    h = decodeURIComponent(location.hash.replace(/^#/, ''));
  } catch {
    h = '';
  }
  if (h.startsWith('mailbox/')) return { page: 'mailbox', mkey: h.slice(8).toLowerCase() };
  if (h in PAGES && h !== 'mailbox') return { page: h };
  return { page: 'mailboxes' };
}

// Goes to `hash`, then shows `status` (what the action before it did).
function navigate(hash, status = '') {
  pendingStatus = status;
  if (location.hash === hash) show(parseHash(), true);
  else location.hash = hash;  // hashchange shows it
}

// Shows page `r` (focus on its heading if `focus`) and loads it.
function show(r, focus, keepMessages = false) {
  stopPolling();
  if (!keepMessages) clearMessages();
  if (pendingStatus) {
    setStatus(pendingStatus);
    pendingStatus = '';
  }
  if (r.page !== 'mailboxes') hideCreated();  // the new secret is shown only once
  route = r;
  const serial = pollSerial;
  const still = () => serial === pollSerial && login.csrf !== null;
  for (const page of document.querySelectorAll('.page')) page.hidden = page.id !== 'page-' + r.page;
  const navPage = r.page === 'mailbox' ? 'mailboxes' : r.page;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.id === 'nav-' + navPage) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const spec = PAGES[r.page];
  document.title = (r.page === 'mailbox' ? 'Mailbox ' + r.mkey : spec.title) +
                   ' — postbox admin console';
  if (focus) $(r.page + '-heading').focus();
  const run = async () => {
    if (!still()) return;
    if (!spec.poll || !document.hidden) {
      try {
        await spec.load(r, still);
        if (spec.poll && still()) $('error').textContent = '';  // a poll that works again
      } catch (err) {
        if (still()) showError(err);
      }
    }
    if (spec.poll && still()) pollTimer = setTimeout(run, spec.poll);
  };
  run();
}

function stopPolling() {
  pollSerial++;
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}

// ---- Login ---------------------------------------------------------------------

function showLogin(message, isError) {
  login.csrf = null;
  route = null;
  stopPolling();
  forgetMailboxes();
  forgetSessions();
  forgetHealth();
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('loading').hidden = true;
  for (const page of document.querySelectorAll('.page')) page.hidden = page.id !== 'page-login';
  document.title = 'Log in — postbox admin console';
  clearMessages();
  $('login-error').textContent = isError ? message : '';
  if (!isError) setStatus(message);
  $('login-token').focus();
}

function enter(focus) {
  $('loading').hidden = true;
  $('page-login').hidden = true;
  $('nav').hidden = false;
  $('logout').hidden = false;
  show(parseHash(), focus);
}

async function onLogin(event) {
  event.preventDefault();
  const input = $('login-token');
  const token = input.value;
  input.value = '';  // the token stays nowhere in the page
  clearMessages();
  $('login-error').textContent = '';
  if (!token) {
    $('login-error').textContent = 'Enter the admin token.';
    input.focus();
    return;
  }
  const button = $('login-submit');
  button.disabled = true;
  try {
    const answer = await api('POST', '/admin/login', { token });
    login.csrf = answer.csrf;
    enter(true);
  } catch (err) {
    $('login-error').textContent = errorText(err);
    input.focus();
  } finally {
    button.disabled = false;
  }
}

async function onLogout() {
  try {
    await api('POST', '/admin/logout');
  } catch (err) {
    if (err.handled) return;
    // The server forgets the login anyway when it expires; say what happened.
    showLogin(`Logged out here, but the server answered: ${errorText(err)}`, true);
    return;
  }
  showLogin('You have logged out.', false);
}

// ---- Start -------------------------------------------------------------------------

async function start() {
  setUnauthorizedHandler((message) => showLogin(message, true));
  initMailboxes({ navigate });
  initSessions();
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  window.addEventListener('hashchange', () => {
    if (login.csrf !== null) show(parseHash(), true);
  });
  document.addEventListener('visibilitychange', () => {
    // Polling pauses while the browser tab is hidden; it catches up when shown.
    if (!document.hidden && route && PAGES[route.page].poll) show(route, false, true);
  });
  // Logged in already (the cookie of an earlier visit)? The answer also
  // gives this login's CSRF token.
  try {
    const answer = await api('GET', '/admin/login');
    login.csrf = answer.csrf;
    enter(false);
  } catch (err) {
    showLogin('', false);
    if (err.status !== 401) showError(err);
  }
}

start();
