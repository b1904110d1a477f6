// The Sessions page: who is connected (GET /admin/sessions), viewers per
// mailbox (GET /admin/viewers), kicking a session (DELETE
// /admin/sessions/ID). The router reloads it every few seconds while shown;
// rows are updated in place, so focus on a Kick button survives a refresh.

import { api, seg } from './api.js';
import { $, act, clearRows, el, fmtBytes, fmtTime, mkeyLink, setStatus, setText, syncRows }
    from './dom.js';

const COLUMNS = ['id', 'mailbox', 'platform', 'app_version', 'state', 'peer', 'since',
                 'bytes_in', 'bytes_out', 'pending_pushes', 'action'];
const NUMERIC = new Set(['id', 'bytes_in', 'bytes_out', 'pending_pushes']);
const cellsOf = new WeakMap();  // row -> {column: td}

function makeSessionRow(s) {
  const cells = {};
  const tr = el('tr', { 'data-test': 'session-row', 'data-session': s.id });
  for (const c of COLUMNS) {
    cells[c] = el('td', { 'data-col': c,
                          class: NUMERIC.has(c) ? 'num' : c === 'since' ? 'nowrap' : null });
    tr.append(cells[c]);
  }
  const kick = el('button', { type: 'button', class: 'small danger', 'data-test': 'kick',
                              'aria-label': `Kick session ${s.id}` }, 'Kick');
  kick.addEventListener('click', () => kickSession(s.id, kick));
  cells.action.append(kick);
  cellsOf.set(tr, cells);
  return tr;
}

function updateSessionRow(tr, s) {
  const c = cellsOf.get(tr);
  setText(c.id, String(s.id));
  const mkey = s.mkey || '';
  if (tr.getAttribute('data-mkey') !== mkey) {
    tr.setAttribute('data-mkey', mkey);
    c.mailbox.replaceChildren(mkey ? mkeyLink(mkey) : '(no Hello yet)');
  }
  setText(c.platform, s.platform || '—');
  setText(c.app_version, s.app_version || '—');
  setText(c.state, s.state || '—');
  setText(c.peer, s.peer || '—');
  setText(c.since, fmtTime(s.since_ms));
  setText(c.bytes_in, fmtBytes(s.bytes_in));
  setText(c.bytes_out, fmtBytes(s.bytes_out));
  setText(c.pending_pushes, String(s.pending_pushes ?? 0));
}

function makeViewerRow() {
  const tr = el('tr', { 'data-test': 'viewer-row' });
  const cells = { mailbox: el('td'), viewers: el('td', { class: 'num' }), sessions: el('td') };
  tr.append(cells.mailbox, cells.viewers, cells.sessions);
  cellsOf.set(tr, cells);
  return tr;
}

function updateViewerRow(tr, v) {
  const c = cellsOf.get(tr);
  if (tr.getAttribute('data-mkey') !== v.mkey) {
    tr.setAttribute('data-mkey', v.mkey);
    c.mailbox.replaceChildren(mkeyLink(v.mkey));
  }
  setText(c.viewers, String(v.viewers));
  setText(c.sessions, (v.sessions || []).join(', '));
}

// Loads both tables; `still()` says whether the page is still shown.
export async function loadSessions(still = () => true) {
  const [s, v] = await Promise.all([api('GET', '/admin/sessions'), api('GET', '/admin/viewers')]);
  if (!still()) return;
  syncRows($('session-rows'), s.sessions, (x) => x.id, makeSessionRow, updateSessionRow);
  $('session-empty').hidden = s.sessions.length > 0;
  syncRows($('viewer-rows'), v.mailboxes, (x) => x.mkey, makeViewerRow, updateViewerRow);
  $('viewer-empty').hidden = v.mailboxes.length > 0;
  setText($('sessions-updated'), `Updated ${fmtTime(Date.now())} UTC.`);
}

async function kickSession(id, button) {
  await act(button, async () => {
    await api('DELETE', '/admin/sessions/' + seg(id));
    setStatus(`Session ${id} kicked.`);
    await loadSessions();
    $('sessions-heading').focus();  // its row, and the button, are gone
  });
}

export function initSessions() {
  $('sessions-refresh').addEventListener('click', () => act($('sessions-refresh'),
                                                            () => loadSessions()));
}

export function forgetSessions() {
  clearRows($('session-rows'));
  clearRows($('viewer-rows'));
}
