// The console's DOM helpers, formats and messages (console.js has the
// overview). Everything shown is built here with createElement and
// textContent: the page's policy allows no inline script or style, and no
// data is ever parsed as markup.

export const $ = (id) => document.getElementById(id);

// An element with attributes (never on* or style: the policy refuses them)
// and children (strings become text nodes).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  e.append(...children);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svgEl(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  setAttrs(e, attrs);
  e.append(...children);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
}

// Sets a node's text only when it changes (a refresh leaves the rest alone).
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function mkeyLink(mkey) {
  return el('a', { href: '#mailbox/' + mkey, 'data-test': 'mkey-link' }, el('code', {}, mkey));
}

// Rows keyed by an id, updated in place: a refresh neither moves focus nor
// rebuilds what did not change. make(item) makes a row, update(row, item)
// fills it.
const rowMaps = new WeakMap();
export function syncRows(tbody, items, keyOf, make, update) {
  let rows = rowMaps.get(tbody);
  if (!rows) {
    rows = new Map();
    rowMaps.set(tbody, rows);
  }
  const keep = new Set(items.map(keyOf));
  for (const [key, row] of rows) {
    if (!keep.has(key)) {
      row.remove();
      rows.delete(key);
    }
  }
  items.forEach((item, i) => {
    const key = keyOf(item);
    let row = rows.get(key);
    if (!row) {
      row = make(item);
      rows.set(key, row);
    }
    update(row, item);
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
}

export function clearRows(tbody) {
  tbody.replaceChildren();
  rowMaps.delete(tbody);
}

// ---- Formats -------------------------------------------------------------------

// "2024-05-01 12:00:00" (UTC, as the column headings say).
export function fmtTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

export function fmtNum(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return String(Number(x.toFixed(Math.abs(x) < 10 ? 2 : 1)));  // 2.5, not 2.50
}

export function fmtMs(x) {
  return x === null || x === undefined ? '—' : fmtNum(x) + ' ms';
}

// ---- Messages ------------------------------------------------------------------
// #status (role=status) says what an action did; #error (role=alert) what failed.

export function setStatus(text) {
  $('status').textContent = text;
}

// "Error 404: no such mailbox" for an API error (api.js), "Error: ..." otherwise.
export function errorText(err) {
  if (err && typeof err.status === 'number') {
    return err.status ? `Error ${err.status}: ${err.message}` : `Error: ${err.message}`;
  }
  return 'Error: ' + (err && err.message ? err.message : String(err));
}

export function showError(err) {
  if (err && err.handled) return;  // a 401 already went back to the login form
  setStatus('');
  $('error').textContent = errorText(err);
}

export function clearMessages() {
  setStatus('');
  $('error').textContent = '';
}

// Runs an operator's action: clears the last messages, disables `button`
// meanwhile, shows an error if the action fails.
export async function act(button, fn) {
  clearMessages();
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (err) {
    showError(err);
  } finally {
    if (button) button.disabled = false;
  }
}
