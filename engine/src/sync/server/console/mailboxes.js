// The Mailboxes page (list, search, create) and the page of one mailbox (its
// fields, viewers and connections; connect, disconnect, delete through a
// confirmation dialog). console.js has the overview.

import { api, seg } from './api.js';
import { $, act, clearMessages, clearRows, el, fmtTime, mkeyLink, setStatus, showError }
    from './dom.js';

const PAGE_SIZE = 50;              // mailboxes per request
const CONNECTION_PAGE_SIZE = 100;  // connections of one kind per request
const HEX32 = /^[0-9a-f]{32}$/;
const HEX_PREFIX = /^[0-9a-f]{0,32}$/;

const list = { prefix: '', after: null };
let currentMkey = null;  // the mailbox page's mailbox, once loaded
const kinds = [];        // {kind, tbody, empty, more, after} per connection kind
let navigate = null;     // the router's navigate(hash, status)

// ---- The list ---------------------------------------------------------------------

// Loads the first page of the list (or the next one, `append`); returns the
// first row it added.
export async function loadMailboxes(append = false) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (list.prefix) params.set('prefix', list.prefix);
  if (append && list.after) params.set('after', list.after);
  const answer = await api('GET', '/admin/mailboxes?' + params);
  const rows = $('mailbox-rows');
  if (!append) rows.replaceChildren();
  const first = rows.children.length;
  for (const m of answer.mailboxes) {
    rows.append(el('tr', { 'data-test': 'mailbox-row', 'data-mkey': m.mkey },
                   el('td', {}, mkeyLink(m.mkey)),
                   el('td', { class: 'nowrap' }, fmtTime(m.created_ms)),
                   el('td', { class: 'num' }, String(m.seq)),
                   el('td', {}, (m.push && m.push.platform) || 'none')));
  }
  if (answer.mailboxes.length) list.after = answer.mailboxes[answer.mailboxes.length - 1].mkey;
  $('mailbox-more').hidden = !answer.more;
  $('mailbox-empty').hidden = rows.children.length > 0;
  $('mailbox-caption').textContent =
      (list.prefix ? `Mailboxes whose key starts with ${list.prefix}` : 'All mailboxes') +
      ` (${rows.children.length} shown${answer.more ? ', more to load' : ''})`;
  return rows.children[first];
}

async function onMore() {
  await act($('mailbox-more'), async () => {
    const firstNew = await loadMailboxes(true);
    if (firstNew) firstNew.querySelector('a').focus();  // the button may be gone
  });
}

async function onSearch(event) {
  event.preventDefault();
  const prefix = $('search-prefix').value.trim().toLowerCase();
  await act($('search-submit'), async () => {
    if (!HEX_PREFIX.test(prefix)) {
      throw new Error(`the prefix must be 0 to 32 hexadecimal digits (0-9, a-f), got "${prefix}"`);
    }
    list.prefix = prefix;
    list.after = null;
    await loadMailboxes();
    setStatus(`${$('mailbox-rows').children.length} mailbox(es) shown.`);
  });
}

async function onShowAll() {
  $('search-prefix').value = '';
  list.prefix = '';
  list.after = null;
  await act($('search-clear'), () => loadMailboxes());
}

// A new mailbox: its secret is shown now and never again (the store keeps a
// hash); hideCreated() drops it from the page.
async function onCreate() {
  await act($('create-mailbox'), async () => {
    const made = await api('POST', '/admin/mailboxes');
    $('created-mkey').textContent = made.mkey;
    $('created-secret').textContent = made.secret;
    $('created-open').setAttribute('href', '#mailbox/' + made.mkey);
    $('created-panel').hidden = false;
    $('created-heading').focus();
    setStatus(`Mailbox ${made.mkey} created. Its secret is shown once, below.`);
    list.after = null;
    await loadMailboxes();
  });
}

export function hideCreated() {
  $('created-panel').hidden = true;
  $('created-mkey').textContent = '';
  $('created-secret').textContent = '';
}

// ---- One mailbox --------------------------------------------------------------------

const KIND_TITLES = {
  connected: 'Connected',
  requested: 'Requested by this mailbox (waiting for the other’s consent)',
  incoming: 'Incoming requests (waiting for this mailbox’s consent)',
};

function buildConnectionKinds() {
  const box = $('connection-kinds');
  for (const kind of Object.keys(KIND_TITLES)) {
    const heading = el('h4', { id: `conn-${kind}-heading` }, KIND_TITLES[kind]);
    const tbody = el('tbody', { id: `conn-${kind}-rows`, 'data-test': `conn-${kind}-rows` });
    const table = el('table', { class: 'data', id: `conn-${kind}-table`,
                                'aria-labelledby': `conn-${kind}-heading` },
                     el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Mailbox key'),
                                        el('th', { scope: 'col' }, 'Action'))),
                     tbody);
    const empty = el('p', { class: 'empty', id: `conn-${kind}-empty` }, 'None.');
    const more = el('button', { type: 'button', class: 'secondary', id: `conn-${kind}-more`,
                                hidden: true }, `More (${kind})`);
    const state = { kind, tbody, empty, more, after: null };
    more.addEventListener('click', () => act(more, () => loadConnections(state, true)));
    kinds.push(state);
    box.append(el('section', { 'aria-labelledby': heading.id }, heading, table, empty, more));
  }
}

export async function loadMailbox(mkey) {
  currentMkey = null;
  $('delete-mailbox').disabled = true;
  $('connect-submit').disabled = true;
  $('mailbox-title').textContent = mkey;
  for (const id of ['field-mkey', 'field-created', 'field-seq', 'field-purged', 'field-platform',
                    'field-token', 'field-viewers']) {
    $(id).textContent = '';
  }
  for (const kind of kinds) {
    kind.tbody.replaceChildren();
    kind.empty.hidden = true;
    kind.more.hidden = true;
  }
  const m = await api('GET', '/admin/mailboxes/' + seg(mkey));
  currentMkey = m.mkey;
  $('field-mkey').textContent = m.mkey;
  $('field-created').textContent = fmtTime(m.created_ms);
  $('field-seq').textContent = String(m.seq);
  $('field-purged').textContent = String(m.purged_seq);
  const push = m.push || {};
  $('field-platform').textContent = push.platform || 'none';
  $('field-token').textContent = push.token ? push.token
                                 : push.token_hex ? `hex ${push.token_hex}` : '(none)';
  $('field-viewers').textContent = String(m.viewers ?? 0);
  $('delete-mailbox').disabled = false;
  $('connect-submit').disabled = false;
  await Promise.all(kinds.map((k) => loadConnections(k, false)));
}

async function loadConnections(state, append) {
  const mkey = currentMkey;
  if (!mkey) return;
  const params = new URLSearchParams({ kind: state.kind, limit: String(CONNECTION_PAGE_SIZE) });
  if (append && state.after) params.set('after', state.after);
  const answer = await api('GET', `/admin/mailboxes/${seg(mkey)}/connections?${params}`);
  if (mkey !== currentMkey) return;  // another mailbox's page meanwhile
  if (!append) state.tbody.replaceChildren();
  for (const peer of answer.connections) {
    const connected = state.kind === 'connected';
    const button = el('button', {
      type: 'button', class: connected ? 'small danger' : 'small',
      'data-test': connected ? 'disconnect' : 'connect-override',
      'aria-label': connected ? `Disconnect from ${peer}` : `Connect to ${peer} (override consent)`,
    }, connected ? 'Disconnect' : 'Connect');
    button.addEventListener('click', () => (connected ? disconnect(peer, button)
                                                      : connect(peer, button)));
    state.tbody.append(el('tr', { 'data-test': 'connection-row', 'data-kind': state.kind,
                                  'data-mkey': peer },
                          el('td', {}, mkeyLink(peer)), el('td', {}, button)));
  }
  if (answer.connections.length) state.after = answer.connections[answer.connections.length - 1];
  state.more.hidden = !answer.more;
  state.empty.hidden = state.tbody.children.length > 0;
}

async function reloadConnections() {
  await Promise.all(kinds.map((k) => loadConnections(k, false)));
  $('connections-heading').focus();  // the button pressed may be gone
}

// The operator's override of consent: both mailboxes connected at once.
async function connect(peer, button) {
  await act(button, async () => {
    if (!HEX32.test(peer)) {
      throw new Error(`a mailbox key is 32 hexadecimal digits (0-9, a-f), got "${peer}"`);
    }
    const a = currentMkey;
    await api('PUT', `/admin/connections/${seg(a)}/${seg(peer)}`);
    $('connect-peer').value = '';
    await reloadConnections();
    setStatus(`Connected ${a} and ${peer}.`);
  });
}

async function disconnect(peer, button) {
  await act(button, async () => {
    const a = currentMkey;
    await api('DELETE', `/admin/connections/${seg(a)}/${seg(peer)}`);
    await reloadConnections();
    setStatus(`Disconnected ${a} and ${peer}.`);
  });
}

// ---- The delete's confirmation ------------------------------------------------------
// A modal <dialog>: Tab and Shift+Tab cycle within it; Escape or Cancel
// closes it and focus returns to the button that opened it.

function openDeleteDialog() {
  const dialog = $('confirm-dialog');
  $('confirm-mkey').textContent = currentMkey;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-cancel').focus();
}

function trapFocus(event) {
  if (event.key !== 'Tab') return;
  const items = [...$('confirm-dialog').querySelectorAll('button:not([disabled])')];
  const first = items[0];
  const last = items[items.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  } else if (!items.includes(document.activeElement)) {
    event.preventDefault();
    first.focus();
  }
}

async function onDialogClose() {
  const opener = $('delete-mailbox');
  const mkey = $('confirm-mkey').textContent;
  if ($('confirm-dialog').returnValue !== 'delete' || !mkey) {
    opener.focus();
    setStatus('Nothing deleted.');
    return;
  }
  clearMessages();
  try {
    await api('DELETE', '/admin/mailboxes/' + seg(mkey));
    navigate('#mailboxes', `Mailbox ${mkey} deleted.`);
  } catch (err) {
    showError(err);
    if (!err.handled) opener.focus();
  }
}

// ---- Set-up ------------------------------------------------------------------------

// Wires the pages' controls; `router.navigate(hash, status)` changes page.
export function initMailboxes(router) {
  navigate = router.navigate;
  buildConnectionKinds();
  $('create-mailbox').addEventListener('click', onCreate);
  $('search-form').addEventListener('submit', onSearch);
  $('search-clear').addEventListener('click', onShowAll);
  $('mailbox-more').addEventListener('click', onMore);
  $('created-dismiss').addEventListener('click', () => {
    hideCreated();
    setStatus('The secret is hidden.');
    $('create-mailbox').focus();
  });
  $('mailbox-refresh').addEventListener('click', () => act($('mailbox-refresh'), () => {
    const mkey = currentMkey || $('mailbox-title').textContent;
    return loadMailbox(mkey);
  }));
  $('connect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    connect($('connect-peer').value.trim().toLowerCase(), $('connect-submit'));
  });
  $('delete-mailbox').addEventListener('click', openDeleteDialog);
  $('confirm-dialog').addEventListener('keydown', trapFocus);
  $('confirm-dialog').addEventListener('close', onDialogClose);
}

// Drops what the pages show (on logout), the new mailbox's secret above all.
export function forgetMailboxes() {
  hideCreated();
  clearRows($('mailbox-rows'));
  for (const kind of kinds) kind.tbody.replaceChildren();
  currentMkey = null;
}
