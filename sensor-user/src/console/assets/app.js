// The sensor console. Every value from the sensor is put on the page as text
// (textContent / text nodes), never as markup: event data is hostile by nature.
'use strict';

const state = { user: null, csrf: null, view: 'incidents', incidents: [], approvals: [], blocks: [],
  selected: null, skew: 0, history: { offset: 0, limit: 100, total: 0 }, series: {}, lastHealth: null };
// Read by tests and measurements: when each incident id was first rendered (ms since epoch)
// and when the governor opened it.
window.consoleSeen = {};

// ---- DOM helpers ------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const $ = (id) => document.getElementById(id);
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function fill(tbody, rows) { clear(tbody); rows.forEach((r) => tbody.append(r)); }
function toast(msg) { const t = $('toast'); t.textContent = msg; t.hidden = false; setTimeout(() => { t.hidden = true; }, 4000); }
const nowMs = () => Date.now() + state.skew;
function clock(ns) { return ns ? new Date(ns / 1e6).toISOString().slice(11, 19) : ''; }
function when(ns) { if (!ns) return ''; return new Date(ns / 1e6).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'); }
function left(ns) {
  const s = Math.max(0, Math.round((ns / 1e6 - nowMs()) / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${s}s`;
}
function target(t) {
  if (!t) return '';
  if (t.action === 'block') return `block ${t.cidr}`;
  if (t.action === 'kill') return `kill pid ${t.pid} (${t.exe || '?'})`;
  if (t.action === 'isolate') return `isolate ${t.host}`;
  return JSON.stringify(t);
}
const sev = (s) => el('span', { class: `sev sev-${s}` }, s || '');

// ---- API --------------------------------------------------------------------------------
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opts.headers['Content-Type'] = 'application/json';
    if (state.csrf) opts.headers['X-CSRF-Token'] = state.csrf;
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opts);
  let data = {};
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401 && path !== '/api/login') { signedOut(); throw new Error('signed out'); }
  if (!r.ok || data.ok === false) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

// ---- sign-in ----------------------------------------------------------------------------
function signedOut() {
  state.user = null; state.csrf = null;
  $('login').hidden = false; $('nav').hidden = true; $('logout').hidden = true; $('who').textContent = '';
  document.querySelectorAll('.view').forEach((v) => { v.hidden = true; });
  if (state.events) { state.events.close(); state.events = null; }
  setLive(false);
}
async function signedIn(s) {
  state.user = s.user; state.csrf = s.csrf;
  $('login').hidden = true; $('nav').hidden = false; $('logout').hidden = false;
  $('who').textContent = `signed in as ${s.user}`;
  openEvents();
  await refresh();
  show();
}
$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $('login-error').textContent = '';
  try {
    const s = await api('POST', '/api/login', { user: f.get('user'), token: f.get('token') });
    ev.target.reset();
    await signedIn(s);
  } catch (e) { $('login-error').textContent = e.message; }
});
$('logout').addEventListener('click', async () => { try { await api('POST', '/api/logout'); } finally { signedOut(); } });

// ---- live updates -----------------------------------------------------------------------
function setLive(on) { const l = $('live'); l.textContent = on ? 'live' : 'offline'; l.classList.toggle('off', !on); }
function openEvents() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/events');
  es.addEventListener('change', () => { refresh(); });
  es.onopen = () => setLive(true);
  es.onerror = () => setLive(false);
  state.events = es;
}

let refreshing = null; let again = false;
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try {
        const [inc, ap, bl] = await Promise.all([api('GET', '/api/incidents'), api('GET', '/api/approvals'), api('GET', '/api/blocks')]);
        state.skew = ap.now_ns ? ap.now_ns / 1e6 - Date.now() : 0;
        state.incidents = inc.incidents || []; state.approvals = ap.approvals || []; state.blocks = bl.blocks || [];
        renderIncidents(); renderApprovals(); renderBlocks();
        if (state.view === 'audit') await renderAudit();
      } catch (e) { if (state.user) toast(e.message); }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

// ---- incidents --------------------------------------------------------------------------
function renderIncidents() {
  const list = [...state.incidents].sort((a, b) => b.id - a.id);
  $('n-incidents').textContent = list.length || '';
  const rows = list.map((i) => {
    const d = i.decisions && i.decisions[i.decisions.length - 1];
    const tr = el('tr', { 'data-incident-id': i.id, class: state.selected === i.id ? 'selected' : '', onclick: () => select(i.id) },
      el('td', {}, i.id), el('td', {}, sev(i.severity)), el('td', {}, (i.stages || []).slice(-1)[0] || ''),
      el('td', {}, (i.confidence || 0).toFixed(2)), el('td', { class: 'mono' }, (i.adversaries || []).join(', ')),
      el('td', {}, (i.techniques || []).join(', ')), el('td', {}, i.findings_total),
      el('td', { class: 'mono nowrap', title: when(i.last_ns) }, clock(i.last_ns)), el('td', {}, d ? `${d.outcome} (${target(d.target)})` : ''));
    return tr;
  });
  fill($('incidents-table').tBodies[0], rows);
  const t = Date.now();
  for (const i of list) {
    if (!(i.id in window.consoleSeen)) window.consoleSeen[i.id] = { seen_ms: t, opened_ms: (i.opened_ns || 0) / 1e6 };
  }
  if (state.selected !== null) renderDetail(list.find((i) => i.id === state.selected));
}
function select(id) { state.selected = id; renderIncidents(); }

function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== '' && v !== undefined).map(([k, v]) => [el('dt', {}, k), el('dd', { class: 'mono' }, v)]));
}
function renderDetail(i) {
  const box = clear($('incident-detail'));
  if (!i) { box.append(el('p', { class: 'hint' }, 'Select an incident.')); return; }
  const procs = Object.values(i.processes || {}).map((p) => `${p.pid} ${p.exe}`).join('; ');
  box.append(el('div', {},
    el('h2', {}, `Incident ${i.id} `, sev(i.severity)),
    kv([['stages', (i.stages || []).join(' → ')], ['confidence', `${(i.confidence || 0).toFixed(2)} — ${i.confidence_note || ''}`],
      ['ATT&CK', (i.techniques || []).join(', ')], ['adversaries', (i.adversaries || []).join(', ')],
      ['targets', (i.targets || []).join(', ')], ['hosts', (i.hosts || []).join(', ')], ['users', (i.users || []).join(', ')],
      ['processes', procs], ['first seen', when(i.first_ns)], ['last seen', when(i.last_ns)],
      ['findings', `${i.findings_total} (${i.suppressed || 0} suppressed)`], ['feedback', (i.feedback || []).join('; ')]]),
    el('h2', {}, 'Agents'),
    el('ul', {}, Object.entries(i.agents || {}).map(([name, a]) => el('li', {}, `${name}: ${a.raw.toFixed(2)} × ${a.weight.toFixed(2)} = ${a.weighted.toFixed(2)} (${a.count} findings) ${a.note || ''}`))),
    el('h2', {}, 'Decisions'),
    (i.decisions || []).length === 0 ? el('p', { class: 'hint' }, 'No decision (below the policy threshold or nothing to act on).') : null,
    (i.decisions || []).map((d) => el('div', { class: 'card', 'data-decision-id': d.id },
      el('strong', {}, `${target(d.target)}: ${d.outcome}`), ` — verdict ${d.verdict}, authority ${d.authority}`,
      d.approver ? ` — by ${d.approver}` : '',
      el('ul', {}, (d.reasoning || []).map((r) => el('li', {}, r))),
      el('div', { class: 'evidence' }, `cost of inaction ${d.scores.cost_of_inaction.toFixed(1)} vs cost of action ${d.scores.cost_of_action.toFixed(1)}; policy ${d.policy_version}`))),
    el('h2', {}, 'Time line'),
    el('ol', { class: 'timeline' }, [...(i.findings || [])].sort((a, b) => a.ts_ns - b.ts_ns).map((f) => el('li', {},
      el('div', { class: 'when' }, `${when(f.ts_ns)} · ${f.agent} · ${f.kind} · ${f.stage} · ${f.technique} · ${f.confidence.toFixed(2)}`),
      el('div', {}, f.reason),
      el('div', { class: 'mono' }, [f.src && `src ${f.src}`, f.dst && `dst ${f.dst}${f.port ? `:${f.port}` : ''}`, f.pid && `pid ${f.pid}`,
        f.exe && `exe ${f.exe}`, f.user && `user ${f.user}`, f.host && `host ${f.host}`].filter(Boolean).join('  ')),
      f.evidence ? el('div', { class: 'evidence' }, f.evidence) : null))),
    el('h2', {}, 'Feedback'),
    feedbackForm(i.id)));
}
function feedbackForm(id) {
  const note = el('input', { name: 'note', placeholder: 'note (optional)' });
  const send = async (label) => {
    try { await api('POST', `/api/incidents/${id}/feedback`, { label, note: note.value }); toast(`feedback recorded: ${label}`); refresh(); } catch (e) { toast(e.message); }
  };
  return el('div', {}, note, ' ',
    el('button', { 'data-action': 'true-positive', onclick: () => send('true-positive') }, 'True positive'), ' ',
    el('button', { 'data-action': 'false-positive', class: 'danger', onclick: () => send('false-positive') }, 'False positive'));
}

// ---- approvals --------------------------------------------------------------------------
function renderApprovals() {
  $('n-approvals').textContent = state.approvals.length || '';
  const box = clear($('approvals-list'));
  if (state.approvals.length === 0) box.append(el('p', { class: 'hint' }, 'Nothing waits for approval.'));
  for (const p of state.approvals) {
    const d = p.decision;
    const reason = el('input', { name: 'reason', placeholder: 'reason for denying' });
    const act = async (what) => {
      try {
        await api('POST', `/api/approvals/${p.id}/${what}`, what === 'deny' ? { reason: reason.value } : {});
        toast(`approval ${p.id}: ${what === 'deny' ? 'denied' : 'approved'}`); refresh();
      } catch (e) { toast(e.message); }
    };
    box.append(el('div', { class: 'card', 'data-approval-id': p.id },
      el('strong', {}, `#${p.id}: ${target(d.target)}`), ` on ${d.asset || 'an unlisted address'} (${d.class}), incident ${d.incident}`,
      el('div', {}, 'expires in ', el('span', { class: 'left', 'data-expires-ns': p.expires_ns }, left(p.expires_ns))),
      el('ul', {}, (d.reasoning || []).map((r) => el('li', {}, r))),
      el('div', { class: 'evidence' }, (p.evidence || []).join('\n')),
      el('p', {}, el('button', { class: 'primary', 'data-action': 'approve', onclick: () => act('approve') }, 'Approve'), ' ',
        reason, ' ', el('button', { class: 'danger', 'data-action': 'deny', onclick: () => act('deny') }, 'Deny'))));
  }
}
setInterval(() => { document.querySelectorAll('[data-expires-ns]').forEach((e) => { e.textContent = left(Number(e.dataset.expiresNs)); }); }, 1000);

// ---- blocks -----------------------------------------------------------------------------
function renderBlocks() {
  $('n-blocks').textContent = state.blocks.length || '';
  fill($('blocks-table').tBodies[0], state.blocks.map((b) => el('tr', { 'data-cidr': b.cidr },
    el('td', { class: 'mono' }, b.cidr), el('td', {}, b.kind), el('td', {}, b.reason),
    el('td', {}, b.incident ? el('a', { href: '#incidents', onclick: () => select(b.incident) }, `#${b.incident}`) : 'manual'),
    el('td', {}, el('span', { 'data-expires-ns': b.expires_ns }, left(b.expires_ns))),
    el('td', {}, el('button', { class: 'danger', 'data-action': 'unblock', onclick: async () => {
      try { await api('POST', '/api/blocks/unblock', { cidr: b.cidr }); toast(`unblocked ${b.cidr}`); refresh(); } catch (e) { toast(e.message); }
    } }, 'Unblock')))));
}
$('block-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $('block-error').textContent = '';
  try { await api('POST', '/api/blocks', { cidr: f.get('cidr'), ttl: f.get('ttl'), reason: f.get('reason') }); ev.target.reset(); refresh(); } catch (e) { $('block-error').textContent = e.message; }
});

// ---- audit ------------------------------------------------------------------------------
async function renderAudit() {
  let a;
  try { a = await api('GET', '/api/audit?limit=300'); } catch (e) { $('audit-status').textContent = e.message; return; }
  const st = $('audit-status');
  st.className = `status ${a.verify.ok ? 'ok' : 'bad'}`;
  st.textContent = a.verify.ok
    ? `Chain verifies: ${a.verify.records} records${a.verify.keyed ? ', HMAC checked' : ' (no HMAC key given)'}; showing the newest ${a.records.length}.`
    : `CHAIN DOES NOT VERIFY: ${a.verify.problems.join('; ')}`;
  const skip = ['seq', 'ts', 'prev', 'kind', 'hash', 'mac', 'approver', 'by', 'reasoning', 'incident_summary', 'at_ns', 'scores', 'matrix_version'];
  fill($('audit-table').tBodies[0], a.records.map(({ record: r }) => {
    const by = r.approver || r.by || '';
    const summary = r.target
      ? `${target(r.target)} → ${r.outcome} (verdict ${r.verdict}, authority ${r.authority}${r.asset ? `, asset ${r.asset}` : ''}, incident ${r.incident})`
      : Object.entries(r).filter(([k]) => !skip.includes(k)).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
    return el('tr', { 'data-seq': r.seq, 'data-kind': r.kind }, el('td', {}, r.seq), el('td', { class: 'mono nowrap' }, r.ts), el('td', {}, r.kind),
      el('td', { class: 'by' }, by),
      el('td', {}, el('div', {}, summary), el('details', {}, el('summary', {}, 'record'), el('pre', { class: 'mono' }, JSON.stringify(r, null, 1)))));
  }));
}

// ---- health -----------------------------------------------------------------------------
const CHARTS = [
  { title: 'Events read per ring (/s)', name: 'sensor_ring_events_total', by: (l) => l.ring, rate: true },
  { title: 'Events lost (ring full, /s)', name: 'sensor_ring_lost_events_total', by: (l) => l.kind, rate: true },
  { title: 'Packets (/s)', name: ['sensor_xdp_packets_total', 'sensor_tc_packets_total'], by: (l, n) => (l.verdict ? `xdp ${l.verdict}` : n.replace('sensor_', '').replace('_packets_total', '')), rate: true },
  { title: 'XDP drops by reason (/s)', name: 'sensor_xdp_drops_total', by: (l) => l.reason, rate: true },
  { title: 'Agent latency (mean µs per event)', latency: true },
];
const COLORS = ['#1f6f5c', '#d9480f', '#5c7cfa', '#a4161a', '#e0a800', '#7048e8', '#0c8599', '#495057'];
async function sampleHealth() {
  if (!state.user) return;
  let h;
  try { h = await api('GET', '/api/health'); } catch (_) { return; }
  const t = h.now_ms / 1000;
  const prev = state.lastHealth; state.lastHealth = { t, samples: h.samples };
  if (prev && t > prev.t) {
    const dt = t - prev.t;
    const sum = (samples, pred) => { const m = {}; for (const s of samples) { const k = pred(s); if (k !== null && s.value !== null) m[k] = (m[k] || 0) + s.value; } return m; };
    CHARTS.forEach((c, ci) => {
      let pts;
      if (c.latency) {
        const key = (suffix) => (s) => (s.name === `sensor_agent_latency_seconds_${suffix}` ? s.labels.agent : null);
        const [s1, c1, s0, c0] = [sum(h.samples, key('sum')), sum(h.samples, key('count')), sum(prev.samples, key('sum')), sum(prev.samples, key('count'))];
        pts = Object.keys(s1).map((a) => [a, (c1[a] - (c0[a] || 0)) > 0 ? ((s1[a] - (s0[a] || 0)) / (c1[a] - (c0[a] || 0))) * 1e6 : 0]);
      } else {
        const names = [].concat(c.name);
        const pick = (s) => (names.includes(s.name) ? c.by(s.labels, s.name) : null);
        const now = sum(h.samples, pick); const before = sum(prev.samples, pick);
        pts = Object.keys(now).map((k) => [k, Math.max(0, (now[k] - (before[k] || 0)) / dt)]);
      }
      const series = state.series[ci] = state.series[ci] || {};
      for (const [k, v] of pts) { (series[k] = series[k] || []).push([t, v]); if (series[k].length > 150) series[k].shift(); }
    });
  }
  if (state.view === 'health') renderHealth(h.samples);
}
function chart(title, series) {
  const W = 400, H = 120, keys = Object.keys(series);
  const all = keys.flatMap((k) => series[k]);
  const box = el('div', { class: 'chart', 'data-chart': title }, el('h3', {}, title));
  if (all.length === 0) { box.append(el('p', { class: 'hint' }, 'collecting…')); return box; }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(...all.map((p) => p[1]), 1e-9);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg'); svg.setAttribute('viewBox', `0 0 ${W} ${H + 14}`);
  const txt = document.createElementNS(ns, 'text'); txt.setAttribute('x', '2'); txt.setAttribute('y', '10'); txt.setAttribute('font-size', '10');
  txt.textContent = `max ${vmax >= 100 ? vmax.toFixed(0) : vmax.toPrecision(3)}`; svg.append(txt);
  const legend = el('div', { class: 'legend' });
  keys.forEach((k, i) => {
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('fill', 'none'); line.setAttribute('stroke', COLORS[i % COLORS.length]); line.setAttribute('stroke-width', '1.5');
    line.setAttribute('points', series[k].map(([t, v]) => `${((t - t0) / (t1 - t0)) * W},${14 + H - (v / vmax) * H}`).join(' '));
    svg.append(line);
    const last = series[k][series[k].length - 1][1];
    const label = el('span', {}, `${k} ${last >= 100 ? last.toFixed(0) : last.toPrecision(3)}`);
    label.style.color = COLORS[i % COLORS.length]; // CSSOM, which the style-src policy allows
    legend.append(label);
  });
  box.append(svg, legend);
  return box;
}
function renderHealth(samples) {
  const box = clear($('charts'));
  CHARTS.forEach((c, ci) => box.append(chart(c.title, state.series[ci] || {})));
  const keep = (samples || []).filter((s) => !/_(sum|count)$/.test(s.name));
  fill($('health-table').tBodies[0], keep.map((s) => el('tr', {}, el('td', { class: 'mono' }, s.name),
    el('td', { class: 'mono' }, Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(' ')), el('td', {}, s.value))));
}
setInterval(sampleHealth, 2000);

// ---- history (lake) ---------------------------------------------------------------------
async function renderHistory() {
  const h = state.history;
  let r;
  try { r = await api('GET', `/api/history?limit=${h.limit}&offset=${h.offset}`); } catch (e) { $('hist-pos').textContent = e.message; return; }
  h.total = r.total || 0;
  $('hist-pos').textContent = `${h.total ? h.offset + 1 : 0}–${h.offset + (r.incidents || []).length} of ${h.total}`;
  fill($('history-table').tBodies[0], (r.incidents || []).map((i) => el('tr', {}, el('td', {}, i.incident_id), el('td', { class: 'mono' }, i.last_seen),
    el('td', {}, i.stage), el('td', {}, Number(i.confidence || 0).toFixed(2)), el('td', {}, sev(i.severity)),
    el('td', { class: 'mono' }, i.adversaries), el('td', {}, i.summary))));
}
$('hist-prev').addEventListener('click', () => { state.history.offset = Math.max(0, state.history.offset - state.history.limit); renderHistory(); });
$('hist-next').addEventListener('click', () => { if (state.history.offset + state.history.limit < state.history.total) { state.history.offset += state.history.limit; renderHistory(); } });

// ---- navigation -------------------------------------------------------------------------
function show() {
  if (!state.user) return;
  const v = (location.hash || '#incidents').slice(1);
  state.view = ['incidents', 'approvals', 'blocks', 'audit', 'health', 'history'].includes(v) ? v : 'incidents';
  document.querySelectorAll('.view').forEach((s) => { s.hidden = s.id !== `view-${state.view}`; });
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === state.view));
  if (state.view === 'audit') renderAudit();
  if (state.view === 'health') renderHealth(state.lastHealth && state.lastHealth.samples);
  if (state.view === 'history') renderHistory();
}
window.addEventListener('hashchange', show);

(async () => {
  try { await signedIn(await api('GET', '/api/session')); } catch (_) { signedOut(); }
})();
