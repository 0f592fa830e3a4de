// The map of a pyros mesh. It draws each snapshot of /api/events as SVG,
// and lets a person call services (/api/call), watch streams (/api/stream)
// and watch the shared state (/api/state). No build step, no dependency.
'use strict';

const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2b7bb9', '#d9822b', '#3d9970', '#9b59b6', '#c0392b', '#8c6d31'];
const W = 1000, H = 640;
const $ = (sel) => document.querySelector(sel);

// node makes an element: attributes from attrs, children (strings become text).
function node(make, attrs, kids) {
  const e = make();
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}
const svg = (tag, attrs, ...kids) => node(() => document.createElementNS(NS, tag), attrs, kids);
const html = (tag, attrs, ...kids) => node(() => document.createElement(tag), attrs, kids);

const num = (x) => (x < 10 ? x.toFixed(1) : String(Math.round(x)));
const ms = (x) => (x < 1 ? `${Math.round(x * 1000)} µs` : `${x.toFixed(1)} ms`);

function uptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(s)}s`;
}

// ---- the map ----

// clusters puts all peers in one circle, or, in a partition, each group of
// peers (by what they see, or by the fault partition they apply) in its
// own, and those cut off from this page's peer in another.
function clusters(snap) {
  if (!snap.partitioned) return [{ peers: snap.peers, color: COLORS[0] }];
  const cs = snap.groups.map((g, i) => ({ peers: [], color: g.cut ? '#e8464a' : COLORS[i % COLORS.length], label: g.label }));
  const rest = { peers: [], color: '#999', label: 'dead or not answering' };
  for (const p of snap.peers) (p.group >= 0 ? cs[p.group] : rest).peers.push(p);
  if (rest.peers.length) cs.push(rest);
  return cs;
}

function layout(cs) {
  const pos = new Map();
  const cw = W / cs.length;
  const boxes = cs.map((c, i) => {
    // an ellipse that fits the column: narrow columns stack their peers
    const cx = cw * (i + 0.5), cy = H / 2 + 10, n = c.peers.length;
    const rx = n <= 1 ? 0 : Math.min(cw / 2 - 100, 90 + 30 * n), ry = n <= 1 ? 0 : Math.min(H / 2 - 130, 90 + 30 * n);
    const a0 = n === 2 && rx >= ry ? Math.PI : -Math.PI / 2;
    const sorted = [...c.peers].sort((a, b) => a.name.localeCompare(b.name));
    if (n > 1 && rx < 60) { // a narrow column: one above the other
      const step = Math.min(150, (H - 200) / (n - 1));
      sorted.forEach((p, k) => pos.set(p.name, [cx, cy + step * (k - (n - 1) / 2)]));
    } else {
      sorted.forEach((p, k) => {
        const a = a0 + (2 * Math.PI * k) / n;
        pos.set(p.name, [cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
      });
    }
    return { x: cw * i + 8, y: 12, w: cw - 16, h: H - 24, c };
  });
  return { pos, boxes };
}

function badges(p) {
  const out = [];
  if (p.role === 'leader') out.push(['state leader', '#b8860b']);
  else if (p.role === 'server') out.push(['state server', '#607d8b']);
  if (p.gateway) out.push(['ROS gateway', '#22863a']);
  if (p.faults) out.push([p.faults.length > 24 ? `faults: ${p.faults.slice(0, 22)}…` : `faults: ${p.faults}`, '#c0392b']);
  return out;
}

function peerNode(p, color, [x, y]) {
  const cls = ['peer', p.state.replace(' ', '-')].concat(p.self ? ['self'] : []).join(' ');
  const g = svg('g', { class: cls, 'data-peer': p.name, 'data-state': p.state, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` });
  const tip = [p.self ? `${p.name}: the peer serving this page` : p.name, p.faults && `faults: ${p.faults}`, p.ros, p.reason && `${p.state}: ${p.reason}`, p.sees && `sees: ${p.sees.join(', ')}`,
    p.links && `links to: ${p.links.join(', ')}`, p.services && `provides: ${p.services.join(', ')}`];
  g.append(svg('title', {}, tip.filter(Boolean).join('\n')));
  g.append(svg('circle', { class: 'body', r: 32, fill: color }));
  g.append(svg('text', { class: 'label', y: 52 }, p.name));
  const lost = p.since && { dead: 'gone', 'cut off': 'lost' }[p.state];
  const sub = lost ? `${p.host || ''} ${lost} since ${new Date(p.since).toLocaleTimeString()}`
    : [p.host, p.state === 'alive' && `up ${uptime(p.uptime)}`, p.self && 'this page'].filter(Boolean).join(' · ');
  g.append(svg('text', { class: 'sub', y: 67 }, sub));
  if (p.state === 'dead') g.append(svg('text', { class: 'mark', y: 83 }, `DEAD (${p.reason})`));
  if (p.state === 'unreachable') g.append(svg('text', { class: 'mark', y: 83 }, 'NOT ANSWERING'));
  if (p.state === 'cut off') g.append(svg('text', { class: 'mark', y: 83 }, 'CUT OFF'));
  badges(p).forEach(([text, fill], i) => {
    const w = 12 + text.length * 6.2, by = -56 - i * 20;
    g.append(svg('g', { class: 'badge' }, svg('rect', { x: -w / 2, y: by, width: w, height: 16, fill }),
      svg('text', { y: by + 12 }, text)));
  });
  return g;
}

function drawMap(snap) {
  const m = $('#map');
  m.replaceChildren();
  if (!snap.peers.length) {
    m.append(svg('text', { class: 'empty', x: W / 2, y: H / 2 }, 'no members yet'));
    return;
  }
  const cs = clusters(snap);
  const { pos, boxes } = layout(cs);
  if (snap.partitioned) {
    for (const b of boxes) {
      const label = b.c.label.length > b.w / 7.5 ? `${b.c.label.slice(0, b.w / 7.5 - 1)}…` : b.c.label;
      m.append(svg('g', { class: 'group' }, svg('rect', { x: b.x, y: b.y, width: b.w, height: b.h, stroke: b.c.color }),
        svg('text', { x: b.x + 14, y: b.y + 22, fill: b.c.color }, label)));
    }
  }
  for (const l of snap.links) {
    const a = pos.get(l.a), b = pos.get(l.b);
    if (a && b) m.append(svg('line', { class: 'link', 'data-link': `${l.a} ${l.b}`, x1: a[0], y1: a[1], x2: b[0], y2: b[1] }));
  }
  for (const c of cs) for (const p of c.peers) m.append(peerNode(p, c.color, pos.get(p.name)));
}

// ---- side panels ----

// keyedList keeps one <li> per item, updating its stats in place, so that
// an open form or a live view survives the next snapshot.
function keyedList(ul, kind, items, statsOf, open) {
  const want = new Set(items.map((it) => it.name));
  for (const li of [...ul.children]) {
    if (!want.has(li.dataset[kind])) { if (li.close) li.close(); li.remove(); }
  }
  for (const it of items) {
    let li = [...ul.children].find((e) => e.dataset[kind] === it.name);
    if (!li) {
      li = html('li', { [`data-${kind}`]: it.name }, html('span', { class: 'name' }, it.name), html('div', { class: 'stats' }));
      li.querySelector('.name').onclick = () => toggle(li, it.name, open);
      ul.insertBefore(li, [...ul.children].find((e) => e.dataset[kind] > it.name) || null);
    }
    li.querySelector('.stats').textContent = statsOf(it);
  }
}

function toggle(li, name, open) {
  if (li.close) {
    li.close();
    li.close = null;
    li.classList.remove('open');
    li.querySelector('.detail').remove();
    return;
  }
  const d = html('div', { class: 'detail' });
  li.append(d);
  li.classList.add('open');
  const stop = open(name, d);
  li.close = () => stop();
}

// serviceStats names the providers, with the rate and mean time of those
// that served requests.
// peerStates maps each peer of the last snapshot to its state.
let peerStates = new Map();

// who names a peer, with its state unless alive.
function who(name) {
  const st = peerStates.get(name);
  return st && st !== 'alive' ? `${name} (${st})` : name;
}

function serviceStats(s) {
  return s.providers.map((p) => (p.requests
    ? `${who(p.peer)} (${num(p.rate)}/s, ${ms(p.mean_ms)}${p.errors ? `, ${p.errors} failed` : ''})` : who(p.peer))).join(', ');
}

function openCall(name, d) {
  const arg = html('textarea', { rows: 2, 'aria-label': 'argument (JSON)', placeholder: 'argument as JSON, e.g. "hi" or {"a":2,"b":3}' });
  arg.value = 'null';
  const button = html('button', { type: 'button' }, `call ${name}`);
  const out = html('pre', { class: 'result' });
  out.hidden = true;
  button.onclick = async () => {
    out.hidden = false;
    out.className = 'result';
    out.textContent = 'calling…';
    const t0 = performance.now();
    try {
      const r = await fetch('api/call', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: `{"service":${JSON.stringify(name)},"arg":${arg.value.trim() || 'null'}}`,
      });
      const j = await r.json();
      if ('result' in j) out.textContent = `${JSON.stringify(j.result, null, 1)}\n(${Math.round(performance.now() - t0)} ms)`;
      else { out.classList.add('error'); out.textContent = j.error; }
    } catch (e) {
      out.classList.add('error');
      out.textContent = String(e);
    }
  };
  d.append(arg, button, out);
  return () => {};
}

function streamStats(s) {
  const ends = `${s.publishers.map(who).join(', ') || 'no publisher'} → ${s.subscribers.map(who).join(', ') || 'no subscriber'}`;
  let rates = `${num(s.rate)}/s sent, ${num(s.received_rate)}/s received`;
  if (s.dropped) rates += `, ${s.dropped} dropped`;
  if (s.lost) rates += `, ${s.lost} lost`;
  return `${ends} · ${rates}`;
}

function openStream(name, d) {
  const info = html('div', { class: 'hint' }, 'waiting for values…');
  const out = html('pre', { class: 'values' });
  d.append(info, out);
  const lines = [];
  let n = 0;
  const es = new EventSource(`api/stream?name=${encodeURIComponent(name)}`);
  es.onmessage = (ev) => {
    const v = JSON.parse(ev.data);
    lines.unshift(`${v.from} #${v.seq}: ${JSON.stringify(v.value)}${v.skipped ? `  (${v.skipped} skipped)` : ''}`);
    lines.length = Math.min(lines.length, 12);
    out.textContent = lines.join('\n');
    info.textContent = `${++n} value(s), live (at most 20 a second)`;
  };
  es.onerror = () => { info.textContent = 'reconnecting…'; };
  return () => es.close();
}

let stateES = null;

function watchState(prefix) {
  if (stateES) stateES.close();
  const entries = new Map();
  const msg = $('#statemsg');
  msg.className = 'hint';
  msg.textContent = 'listing…';
  const es = new EventSource(`api/state?prefix=${encodeURIComponent(prefix)}`);
  stateES = es;
  es.onmessage = (ev) => {
    const e = JSON.parse(ev.data);
    if (e.type === 'error') {
      msg.className = 'hint error';
      msg.textContent = e.error;
      es.close();
      return;
    }
    if (e.type === 'list') {
      entries.clear();
      for (const x of e.entries) entries.set(x.key, x);
    } else if (e.type === 'put') entries.set(e.entry.key, e.entry);
    else if (e.type === 'delete') entries.delete(e.entry.key);
    msg.textContent = `${entries.size} key(s) under "${prefix}" at revision ${e.rev}${e.truncated ? ' (the first 1000)' : ''}, live`;
    const rows = [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : 1))
      .map((x) => html('tr', { 'data-key': x.key }, html('td', {}, x.key), html('td', {}, JSON.stringify(x.value))));
    $('#statetable tbody').replaceChildren(...rows);
  };
}

// ---- the snapshots ----

function render(snap) {
  $('#self').textContent = `seen from ${snap.self}`;
  document.title = `pyros mesh · ${snap.self}`;
  const count = (state) => snap.peers.filter((p) => p.state === state).length;
  const status = $('#status');
  status.className = '';
  status.textContent = [`${count('alive')} alive`, count('unreachable') && `${count('unreachable')} not answering`,
    count('cut off') && `${count('cut off')} cut off`, count('dead') && `${count('dead')} dead`,
    new Date(snap.at).toLocaleTimeString()].filter(Boolean).join(' · ');
  const part = $('#partition');
  const cut = snap.groups.find((g) => g.cut);
  part.hidden = !snap.partitioned;
  part.textContent = cut ? `partitioned: ${cut.peers.join(', ')} cut off from ${snap.self}`
    : `partitioned: ${snap.groups.map((g) => g.peers.join(',')).join(' | ')}`;
  drawMap(snap);
  peerStates = new Map(snap.peers.map((p) => [p.name, p.state]));
  keyedList($('#services'), 'service', snap.services, serviceStats, openCall);
  keyedList($('#streams'), 'stream', snap.streams, streamStats, openStream);
  document.body.dataset.frames = Number(document.body.dataset.frames || 0) + 1;
}

function connect() {
  const es = new EventSource('api/events');
  es.onmessage = (ev) => render(JSON.parse(ev.data));
  es.onerror = () => {
    const status = $('#status');
    status.className = 'down';
    status.textContent = 'disconnected from the peer, retrying…';
  };
}

$('#stateform').onsubmit = (e) => {
  e.preventDefault();
  watchState($('#prefix').value);
};
connect();
