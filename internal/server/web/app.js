// blackout dashboard: a small single-page app over /api/v1, in plain JS.
import { NAMES } from './iso3166.js';
import { createMap } from './map.js';
import { drawSignals } from './chart.js';
import { showLearning } from './learning.js';

// ---------- helpers ----------

const $ = sel => document.querySelector(sel);

// el builds an element: el('a', {href: '/'}, 'text', child...). Text is never parsed as HTML.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat(Infinity)) if (k !== undefined && k !== null && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

class HTTPError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(path) {
  const r = await fetch('/api/v1' + path, { headers: { Accept: 'application/json' } });
  if (!r.ok) {
    let msg = r.statusText;
    try { const j = await r.json(); msg = j.error || msg; } catch { /* not JSON */ }
    throw new HTTPError(r.status, msg);
  }
  return r.json();
}

const qs = o => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
};

const pad = n => String(n).padStart(2, '0');
function fmtTime(iso, short) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return short ? `${day} ${hm} UTC` : `${day} ${hm}:${pad(d.getUTCSeconds())} UTC`;
}
const timeEl = (iso, short) => el('time', { datetime: iso }, fmtTime(iso, short));

// fmtDur formats like the text report (event.FormatDuration, the same
// rounding): 45s, 59m59s, 9h31m, 30h00m, 2d09h.
function fmtDur(ms) {
  if (!(ms >= 0)) return '';
  const s = ms / 1000;
  if (s >= 48 * 3600) { const h = Math.round(s / 3600); return `${Math.floor(h / 24)}d${pad(h % 24)}h`; }
  if (s >= 3600) { const m = Math.round(s / 60); return `${Math.floor(m / 60)}h${pad(m % 60)}m`; }
  if (s >= 60) { const r = Math.round(s); return `${Math.floor(r / 60)}m${pad(r % 60)}s`; }
  return `${Math.round(s)}s`;
}
const num = n => (typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 2 }) : n ?? '—');
const pct = f => `${Math.round((f || 0) * 100)}%`;

const KINDS = {
  outage: 'Outage', partial_outage: 'Partial outage', instability: 'Instability',
  upstream_change: 'Upstream change', peer_event: 'Vantage-point event',
};
const kindLabel = k => KINDS[k] || k;

function entityHref(type, code) {
  if (type === 'country') return '/country/' + encodeURIComponent(code);
  if (type === 'asn') return '/asn/' + encodeURIComponent(String(code).replace(/^AS/i, ''));
  return null;
}
function entityTitle(ev) {
  if (ev.entity_type === 'asn') return `AS${ev.entity_code}${ev.entity_name ? ' ' + ev.entity_name : ''}`;
  if (ev.entity_type === 'peer') return `peer ${ev.entity_code}${ev.peer_as ? ' (AS' + ev.peer_as + ')' : ''}`;
  return `${ev.entity_name || NAMES[ev.entity_code] || ev.entity_code} (${ev.entity_code})`;
}
const asLink = a => el('a', { href: '/asn/' + a.asn }, `AS${a.asn}`);
const sevBadge = sev => el('span', { class: `badge sev-${sev}` }, sev);
const stateBadge = st => el('span', { class: `badge state-${st || 'normal'}` }, st || 'normal');

// ---------- live data clock and stream ----------

const live = { dataTime: null, routeEvents: null, listeners: new Set() };
const nowSec = () => (live.dataTime ? Date.parse(live.dataTime) / 1e3 : Date.now() / 1e3);
const nowMs = () => nowSec() * 1e3;

function showClock() {
  const parts = [live.dataTime ? 'data time ' + fmtTime(live.dataTime) : 'data time —'];
  if (typeof live.routeEvents === 'number') parts.push(num(live.routeEvents) + ' route events');
  $('#clock').textContent = parts.join(' · ');
  showMode();
  // Every "ongoing for" follows the data clock.
  for (const e of document.querySelectorAll('[data-since]')) e.textContent = (e.dataset.prefix || '') + fmtDur(nowMs() - Date.parse(e.dataset.since));
  // And so does the score of an ongoing event (its area grows).
  for (const e of document.querySelectorAll('[data-score-since]')) {
    e.textContent = (e.dataset.prefix || '') + fmtScore(Number(e.dataset.lost) * Math.max(0, nowMs() - Date.parse(e.dataset.scoreSince)) / 36e5);
  }
}

// dataMode says where the data comes from: "live" when a source is fed and
// the data clock is within an hour of the wall clock, "replay" when a source
// is fed with older data, "stored" when no source is being fed.
function dataMode() {
  if (live.running === undefined) return 'unknown';
  if (!live.running) return 'stored';
  if (live.dataTime && Math.abs(Date.now() - Date.parse(live.dataTime)) < 36e5) return 'live';
  return 'replay';
}
const MODE_TEXT = { live: 'live', replay: 'replay of archived data', stored: 'stored data, no source fed', unknown: 'connecting' };
function showMode() {
  const m = $('#mode');
  if (!m) return;
  const mode = dataMode();
  const text = MODE_TEXT[mode] + (live.connected === false ? ' · stream disconnected' : '');
  m.dataset.mode = mode;
  $('#live').className = `live ${live.connected && mode === 'live' ? 'on' : live.connected && mode === 'replay' ? 'replay' : 'off'}`;
  $('#mode-text').textContent = text;
  m.setAttribute('aria-label', text);
}

function connectStream() {
  if (!window.EventSource) return;
  const es = new EventSource('/api/v1/stream');
  // Give the connection back at once when the page goes: browsers allow
  // only six connections per server over HTTP/1.1.
  window.addEventListener('pagehide', () => es.close());
  es.onopen = () => { live.connected = true; showMode(); };
  es.onerror = () => { live.connected = false; showMode(); };
  es.addEventListener('tick', m => {
    try {
      const t = JSON.parse(m.data);
      if (t.data_time) live.dataTime = t.data_time;
      if (typeof t.route_events === 'number') live.routeEvents = t.route_events;
      showClock();
      for (const f of live.listeners) f({ type: 'tick', tick: t });
    } catch { /* ignore a bad frame */ }
  });
  es.addEventListener('notice', m => {
    try {
      const n = JSON.parse(m.data);
      if (n.event && n.event.start && (!live.dataTime || n.event.start > live.dataTime)) live.dataTime = n.event.start;
      for (const f of live.listeners) f({ type: 'notice', notice: n });
    } catch { /* ignore a bad frame */ }
  });
}

// ---------- what is judged ----------

// The detector's coverage (status.judging, health.judging): which address
// families are judged, from when, or why not. Where nothing is judged the
// dashboard never says "within its normal".
const FAM = { ipv4: 'IPv4', ipv6: 'IPv6' };
const famLabel = f => FAM[f] || f;

// judgingLines returns the statements that qualify a judgement: families
// not judged, judged ones with a note, then the records not decoded.
function judgingLines(j) {
  if (!j) return [];
  const fams = j.families || [], st = j.statements || [];
  if (!fams.length || st.length < fams.length) return st.slice();
  const out = [];
  fams.forEach((f, i) => { if (!f.judged_from || f.note) out.push(st[i]); });
  return out.concat(st.slice(fams.length));
}

function judgingSummary(j) {
  const fams = j.families || [];
  const yes = fams.filter(f => f.judged_from), no = fams.filter(f => !f.judged_from);
  if (!j.judged || !yes.length) return { cls: 'none', text: 'not judged yet' };
  const qualified = yes.some(f => f.note) || Object.keys(j.undecoded || {}).length > 0;
  const text = 'judging ' + yes.map(f => famLabel(f.family)).join(' + ') + (no.length ? ' only' : '') + (qualified ? ' · with notes' : '');
  return { cls: no.length || qualified ? 'partial' : 'full', text };
}

function showJudging() {
  const j = live.judging, box = $('#judging');
  if (!box) return;
  if (!j) { box.hidden = true; return; }
  const { cls, text } = judgingSummary(j);
  box.hidden = false;
  box.className = 'judging ' + cls;
  $('#judging-sum').textContent = text;
  const st = j.statements && j.statements.length ? j.statements : [text];
  $('#judging-list').replaceChildren(...st.map(s => el('li', {}, s)));
}

function setJudging(j) {
  if (!j || typeof j !== 'object') return;
  live.judging = j;
  showJudging();
  showLearning(j);
}

// The health answers 503 {"status": "degraded", "reason": ...} while the
// store cannot be written or read: a banner says so until it heals.
async function fetchHealth() {
  const r = await fetch('/api/v1/health', { headers: { Accept: 'application/json' } });
  return r.json(); // 200 and 503 both carry the health object
}
function showHealth(h) {
  const b = $('#degraded');
  if (!b || !h || typeof h !== 'object') return;
  if (h.status === 'degraded') {
    b.textContent = 'Storage problem: ' + (h.reason || 'the store is failing') +
      '. What is shown may be behind the data; writes are retried until they succeed.';
    b.hidden = false;
  } else {
    b.hidden = true;
  }
}
const refreshHealth = throttle(() => fetchHealth().then(h => { showHealth(h); live.running = !!h.running; showMode(); setJudging(h.judging); }).catch(() => {}), 15000);
setInterval(() => fetchHealth().then(showHealth).catch(() => {}), 10000);

// throttle runs f at most once per ms, trailing call included.
function throttle(f, ms) {
  let last = 0, timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); f(); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); f(); }, wait);
  };
}

// ---------- event lists ----------

// ---------- grouping, score, timeline ----------

const SCORED = new Set(['outage', 'partial_outage']);
const evEnd = ev => (ev.end ? Date.parse(ev.end) : nowMs());

// eventScore is an event's drop times its duration (IODA's alert area):
// the share of the address space lost, times the hours it lasted; 1 is one
// hour of a whole country or network dark. Only outages and partial
// outages have one: instability and upstream changes lose no space for
// long.
function eventScore(ev) {
  if (!SCORED.has(ev.kind) || !ev.fraction_lost) return null;
  return ev.fraction_lost * Math.max(0, evEnd(ev) - Date.parse(ev.start)) / 36e5;
}
const fmtScore = x => (x == null ? '' : x >= 10 ? x.toFixed(0) : x.toFixed(1));

// groupEvents puts each AS event under the country event it is part of
// (same kind, starting within ten minutes, the AS among the country's
// origins or registered there), so that one incident is listed once.
function groupEvents(events) {
  const groups = [], byCountry = [];
  for (const ev of events) {
    if (ev.entity_type !== 'asn') {
      const g = { lead: ev, members: [] };
      groups.push(g);
      if (ev.entity_type === 'country') byCountry.push(g);
    }
  }
  for (const ev of events) {
    if (ev.entity_type !== 'asn') continue;
    const s = Date.parse(ev.start);
    const cc = (ev.origin_ases || []).map(a => a.country).find(Boolean);
    const home = byCountry.find(g => g.lead.kind === ev.kind && Math.abs(Date.parse(g.lead.start) - s) <= 6e5 &&
      ((g.lead.origins || []).map(String).includes(String(ev.entity_code)) || (cc && cc === g.lead.entity_code) ||
        (!(g.lead.origins || []).length && !cc)));
    if (home) home.members.push(ev); else groups.push({ lead: ev, members: [] });
  }
  const order = new Map(events.map((e, i) => [e, i]));
  return groups.sort((a, b) => order.get(a.lead) - order.get(b.lead));
}

// scoreEl is an event's score; an ongoing one's follows the data clock.
function scoreEl(ev, prefix) {
  return el('span', { class: 'score', title: 'score: share lost × hours (the outage\'s area)', 'data-prefix': prefix,
    'data-score-since': ev.end ? null : ev.start, 'data-lost': ev.end ? null : ev.fraction_lost }, prefix + fmtScore(eventScore(ev)));
}

function since(ev, prefix) {
  return el('span', { 'data-since': ev.start, 'data-prefix': prefix || '' }, (prefix || '') + fmtDur(nowMs() - Date.parse(ev.start)));
}

function eventItem(ev, members = []) {
  const ongoing = !ev.end;
  const meta = [fmtTime(ev.start), ' · ', ongoing ? since(ev, 'ongoing for ') : fmtDur(evEnd(ev) - Date.parse(ev.start))];
  if (ev.fraction_lost) meta.push(` · lost ${pct(ev.fraction_lost)}`);
  const sc = eventScore(ev);
  if (sc != null) meta.push(scoreEl(ev, ' · score '));
  if (ev.family && ev.family !== 'all') meta.push(' · ' + ev.family);
  return el('li', {
    class: `ev sev-${ev.severity} kind-${ev.kind}${ongoing ? ' ongoing' : ''}`,
    'data-event-id': ev.id, 'data-entity': `${ev.entity_type}:${ev.entity_code}`, 'data-kind': ev.kind,
  },
  el('a', { href: `/event/${ev.id}` },
    el('span', { class: `badge sev-${ev.severity}` }, kindLabel(ev.kind)),
    ongoing ? el('span', { class: 'badge ongoing' }, 'ongoing') : null,
    ' ', el('strong', { class: 'who' }, entityTitle(ev)),
    el('span', { class: 'meta' }, meta)),
  members.length ? el('ul', { class: 'members', 'aria-label': 'Networks in this incident' }, members.map(m => el('li', {
    'data-event-id': m.id, 'data-entity': `${m.entity_type}:${m.entity_code}`, 'data-kind': m.kind,
  }, el('a', { href: `/event/${m.id}` }, '↳ ', el('span', { class: 'who' }, entityTitle(m)),
    el('span', { class: 'meta-inline' }, m.fraction_lost ? ` lost ${pct(m.fraction_lost)}` : ''))))) : null);
}
const groupItems = events => groupEvents(events).map(g => eventItem(g.lead, g.members));

// timeline draws the events of [from, to] as bars, one row per entity:
// each country first, its networks grouped under it.
function timeline(events, from, to) {
  const NS = 'http://www.w3.org/2000/svg';
  const s_ = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const rows = [], rowOf = new Map();
  const row = (ev, indent) => {
    const k = `${ev.entity_type}:${ev.entity_code}`;
    if (!rowOf.has(k)) { rowOf.set(k, rows.length); rows.push({ ev, indent, bars: [] }); }
    return rows[rowOf.get(k)];
  };
  for (const g of groupEvents(events.filter(e => e.kind !== 'peer_event'))) {
    row(g.lead, false).bars.push(g.lead);
    for (const m of g.members) row(m, true).bars.push(m);
  }
  if (!rows.length) return el('p', { class: 'empty' }, 'No event in this range.');
  const shown = rows.slice(0, 40);
  const W = 1000, L = 230, R = 10, RH = 22, TOP = 22, H = TOP + shown.length * RH + 6;
  const x = t => L + (Math.min(Math.max(t, from), to) - from) / Math.max(to - from, 1) * (W - L - R);
  const svg = s_('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'img', 'aria-label': `Timeline of ${rows.length} entities' events` });
  const span = to - from, day = 864e5;
  const step = [36e5, 3 * 36e5, 6 * 36e5, 12 * 36e5, day, 2 * day, 7 * day, 30 * day].find(s => span / s <= 8) || 90 * day;
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const d = new Date(t), lbl = step >= day || (d.getUTCHours() === 0) ? fmtTime(d.toISOString()).slice(0, 10) : fmtTime(d.toISOString()).slice(11, 16);
    svg.append(s_('line', { x1: x(t), x2: x(t), y1: TOP - 4, y2: H, class: 'grid' }), s_('text', { x: x(t), y: 12, 'text-anchor': 'middle', class: 'tick' }, lbl));
  }
  svg.append(s_('text', { x: 4, y: 12, class: 'tick' }, 'UTC'));
  shown.forEach((r, i) => {
    const y = TOP + i * RH;
    const a = s_('a', { href: entityHref(r.ev.entity_type, r.ev.entity_code) || '#' });
    const name = entityTitle(r.ev);
    a.append(s_('text', { x: r.indent ? 18 : 4, y: y + 15, class: r.indent ? 'row as' : 'row cc' }, (r.indent ? '↳ ' : '') + (name.length > 30 ? name.slice(0, 29) + '…' : name)));
    svg.append(a);
    for (const ev of r.bars) {
      const x0 = x(Date.parse(ev.start)), x1 = x(evEnd(ev));
      const b = s_('a', { href: `/event/${ev.id}`, 'data-event-id': ev.id });
      const rect = s_('rect', { x: x0, y: y + 4, width: Math.max(x1 - x0, 3), height: RH - 8, rx: 2, class: `bar kind-${ev.kind} sev-${ev.severity}` });
      rect.append(s_('title', {}, `${kindLabel(ev.kind)} of ${name}: ${fmtTime(ev.start)} → ${ev.end ? fmtTime(ev.end) : 'ongoing'}${eventScore(ev) != null ? ', score ' + fmtScore(eventScore(ev)) : ''}`));
      b.append(rect); svg.append(b);
    }
  });
  return el('div', { class: 'timeline-wrap' }, svg, rows.length > shown.length ? el('p', { class: 'hint' }, `… and ${rows.length - shown.length} more entities`) : null);
}

// headline says in two sentences what is dark now and what was in the range.
function headline(ongoing, inRange, rangeLabel, j) {
  const dark = groupEvents(ongoing.filter(e => SCORED.has(e.kind)));
  const now = dark.length
    ? ['Dark now: ', dark.slice(0, 4).map((g, i) => [i ? ', ' : '', el('a', { href: `/event/${g.lead.id}` }, entityTitle(g.lead)),
      ` (${kindLabel(g.lead.kind).toLowerCase()}, lost ${pct(g.lead.fraction_lost)}, for `, since(g.lead), ')']), dark.length > 4 ? ` and ${dark.length - 4} more` : '', '.']
    : [j && !j.judged ? 'Not judged yet: nothing can be said to be dark or not now.' : 'Nothing is dark now' + (j && (j.families || []).some(f => !f.judged_from) ? ' in the families judged.' : '.')];
  const past = groupEvents(inRange.filter(e => SCORED.has(e.kind))).map(g => ({ g, sc: eventScore(g.lead) || 0 })).sort((a, b) => b.sc - a.sc);
  const Range = rangeLabel[0].toUpperCase() + rangeLabel.slice(1);
  const then = past.length
    ? [`${Range}: ${past.length} outage${past.length > 1 ? 's; the largest ' : ': '}`,
      past.slice(0, 3).map(({ g }, i) => [i ? '; ' : '', el('a', { href: `/event/${g.lead.id}` }, entityTitle(g.lead)), ` on ${fmtTime(g.lead.start, true)}, `,
        g.lead.end ? fmtDur(evEnd(g.lead) - Date.parse(g.lead.start)) : since(g.lead, 'ongoing for '), scoreEl(g.lead, ', score ')]), '.']
    : [`${Range}: no outage.`];
  return el('div', { class: 'headline', id: 'headline' }, el('p', { class: 'now' }, now), el('p', { class: 'then' }, then));
}

function eventTable(events) {
  if (!events.length) return el('p', { class: 'empty' }, 'No events.');
  return el('div', { class: 'table-wrap' }, el('table', { class: 'events-table' },
    el('thead', {}, el('tr', {}, ['Start (UTC)', 'Duration', 'Kind', 'Severity', 'Family', 'Lost', 'Summary'].map(h => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, events.map(ev => el('tr', { 'data-event-id': ev.id, class: ev.end ? '' : 'ongoing' },
      el('td', {}, el('a', { href: `/event/${ev.id}` }, fmtTime(ev.start))),
      el('td', {}, ev.end ? fmtDur(Date.parse(ev.end) - Date.parse(ev.start)) : el('span', { class: 'badge ongoing' }, 'ongoing')),
      el('td', {}, kindLabel(ev.kind)),
      el('td', {}, sevBadge(ev.severity)),
      el('td', {}, ev.family || ''),
      el('td', { class: 'num' }, ev.fraction_lost ? pct(ev.fraction_lost) : ''),
      el('td', { class: 'summary' }, firstSentence(ev.explanation)))))));
}
// firstSentence follows event.FirstSentence: a period ends the sentence
// only outside parentheses, before a space and a capital or a digit, and
// not after an abbreviation of a company's name ("Co. Ltd.").
const ABBR = new Set(['co', 'corp', 'inc', 'ltd', 'llc', 'plc', 'pty', 'bhd', 'jsc', 'sa', 's.a', 'ag', 'gmbh', 'bv', 'nv', 'srl', 'sro', 's.r.o', 'oy', 'ab', 'as', 'e.g', 'i.e', 'etc', 'vs', 'no', 'st', 'dr', 'mr']);
function firstSentence(text) {
  if (!text) return '';
  const s = text.split(/\s+/).filter(Boolean).join(' ');
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[') depth++;
    else if ((c === ')' || c === ']') && depth > 0) depth--;
    else if (c === '.' && depth === 0 && s[i + 1] === ' ' && /[\p{Lu}0-9]/u.test(s[i + 2] || '')) {
      const w = s.slice(0, i).split(/[ (]/).pop().toLowerCase();
      if (ABBR.has(w) || [...w].length === 1) continue;
      return s.slice(0, i + 1);
    }
  }
  return s;
}

// ---------- pages ----------

let page = null; // {destroy(), onLive(msg)}
const mount = (...kids) => { const m = $('#main'); m.replaceChildren(...kids.filter(k => k !== null && k !== undefined && k !== false)); return m; };
function errorBox(err) {
  if (err instanceof HTTPError && err.status === 404) {
    return el('div', { class: 'error', role: 'alert' }, el('h1', {}, 'Not found'), el('p', {}, err.message),
      /^\/asn?\//i.test(location.pathname) ? el('p', { class: 'hint' }, 'blackout knows a network by the prefixes it originates or by the paths to others that go through it; this one is in neither in the data.') : null,
      el('p', {}, el('a', { href: '/' }, 'Back to the overview')));
  }
  return el('div', { class: 'error', role: 'alert' }, el('h1', {}, 'Something went wrong'), el('p', {}, String(err.message || err)));
}

const RANGES = [['1d', 'the last 24 hours', 864e5], ['7d', 'the last 7 days', 7 * 864e5], ['30d', 'the last 30 days', 30 * 864e5], ['all', 'all the data', 0]];

async function homePage() {
  const params = new URLSearchParams(location.search);
  let range = RANGES.some(r => r[0] === params.get('range')) ? params.get('range') : '7d';
  const mapBox = el('div', { class: 'map', id: 'map' });
  const ongoing = el('ul', { class: 'events', id: 'ongoing' });
  const recent = el('ul', { class: 'events', id: 'recent' });
  const head = el('div', { id: 'headline-box' });
  const tl = el('div', { id: 'timeline' });
  const more = el('button', { type: 'button', class: 'more', hidden: true }, 'Older events');
  const hidePeers = el('input', { type: 'checkbox', id: 'hide-peers', checked: true });
  const rangeSel = el('select', { id: 'home-range' }, RANGES.map(([v, l]) => el('option', { value: v, selected: v === range }, l)));
  const csvLink = el('a', { class: 'csv', id: 'events-csv', download: 'events.csv', href: '#' }, 'CSV of these events');
  // The map's time: "now" at the right end, any moment of the range before.
  const slider = el('input', { type: 'range', id: 'map-time', min: 0, max: 1000, value: 1000, step: 1, 'aria-describedby': 'map-time-label' });
  slider.addEventListener('input', () => paintMap());
  mount(
    el('div', { class: 'card-head home-head' }, el('h1', {}, 'Internet outages'),
      el('label', { class: 'range' }, 'Range ', rangeSel)),
    el('section', { class: 'card headline-card', 'aria-label': 'Headline' }, head),
    el('div', { class: 'home' },
      el('section', { class: 'card map-card', 'aria-labelledby': 'map-h' },
        el('h2', { id: 'map-h' }, 'Countries now'),
        mapBox,
        el('div', { class: 'map-time' },
          el('label', { for: 'map-time' }, 'Time'), slider,
          el('output', { id: 'map-time-label', for: 'map-time' }, 'now'),
          el('button', { type: 'button', class: 'more', id: 'map-now', onclick: () => { slider.value = slider.max; paintMap(); } }, 'now')),
        el('ul', { class: 'legend', 'aria-label': 'Legend' },
          el('li', {}, el('span', { class: 'sw state-normal' }), 'normal'),
          el('li', {}, el('span', { class: 'sw state-nodata' }), 'no data'),
          el('li', {}, el('span', { class: 'sw state-warning' }), 'warning'),
          el('li', {}, el('span', { class: 'sw state-critical' }), 'critical'),
          el('li', {}, el('span', { class: 'sw recent' }), 'event in the range'))),
      el('div', { class: 'lists' },
        el('section', { class: 'card', 'aria-labelledby': 'ongoing-h' }, el('h2', { id: 'ongoing-h' }, 'Ongoing'), ongoing),
        el('section', { class: 'card', 'aria-labelledby': 'recent-h' },
          el('div', { class: 'card-head' }, el('h2', { id: 'recent-h' }, 'Ended in the range'),
            el('label', { class: 'toggle' }, hidePeers, ' hide vantage-point events')),
          recent, more, el('p', { class: 'hint' }, csvLink)))),
    el('section', { class: 'card', 'aria-labelledby': 'tl-h' },
      el('div', { class: 'card-head' }, el('h2', { id: 'tl-h' }, 'Timeline'),
        el('span', { class: 'hint' }, 'each country, its networks under it; bars: outages red, partial orange, instability violet, upstream changes blue')), tl),
    el('p', { class: 'hint' }, 'Score: the share of the address space lost × the hours it lasted (the area of the drop, as IODA ranks its alerts); 1 is one hour of a whole country or network dark. ',
      el('a', { href: '/fragility' }, 'Which countries hang on one upstream?')));

  function judgedNote(j, n) {
    const lines = judgingLines(j);
    if (j && !j.judged) {
      return [el('li', { class: 'empty notjudged', 'data-judging': 'none' },
        el('strong', {}, 'Not judged yet'),
        n ? ': the events above were found before; nothing new can be found now.' : ': no outage can be reported for any country or network until the detector judges the data.',
        el('ul', { class: 'why' }, lines.map(s => el('li', {}, s))))];
    }
    const out = [];
    if (!n) {
      const fams = j ? (j.families || []).filter(f => f.judged_from).map(f => famLabel(f.family)) : [];
      const partial = j && (j.families || []).some(f => !f.judged_from);
      out.push(el('li', { class: 'empty calm' }, partial && fams.length
        ? `Nothing ongoing in ${fams.join(' and ')}: every country and network is within its normal there.`
        : 'Nothing ongoing: every country and network is within its normal.'));
    }
    for (const s of lines) out.push(el('li', { class: 'empty notjudged-line', 'data-judging': 'partial' }, s));
    return out;
  }
  const mapNote = el('p', { class: 'hint notjudged-map', hidden: true }, 'Not judged yet: the map shows no state, not that all is normal.');
  mapBox.after(mapNote);

  let updateMap = null;
  let cursor = null, rangeEvents = [], onNow = [], stNow = null;
  createMap(mapBox).then(u => { updateMap = u; paintMap(); }).catch(e => mapBox.replaceChildren(el('p', { class: 'error' }, 'Map unavailable: ' + e.message)));
  let states = {}, seen = null;
  const rangeInfo = () => RANGES.find(r => r[0] === range);
  const bounds = () => {
    const to = nowMs();
    const span = rangeInfo()[2];
    if (span) return [to - span, to];
    const first = rangeEvents.reduce((m, e) => Math.min(m, Date.parse(e.start)), to - 864e5);
    return [first - (to - first) * 0.02, to];
  };

  // sliderTime returns the time the slider points at (null: now).
  function sliderTime() {
    if (Number(slider.value) >= Number(slider.max)) return null;
    const [from, to] = bounds();
    return from + (to - from) * Number(slider.value) / Number(slider.max);
  }
  function paintMap() {
    if (!updateMap) return;
    const at = sliderTime();
    const rec = new Map();
    let st = states;
    if (at === null) {
      $('#map-h').textContent = 'Countries now';
      $('#map-time-label').textContent = 'now';
      for (const ev of rangeEvents) {
        if (ev.entity_type !== 'country' || rec.has(ev.entity_code)) continue;
        rec.set(ev.entity_code, `${kindLabel(ev.kind).toLowerCase()} ${ev.end ? 'on ' + fmtTime(ev.start, true) : 'ongoing since ' + fmtTime(ev.start, true)}`);
      }
    } else {
      // The states at that moment, from the events of the range.
      const iso = new Date(at).toISOString();
      $('#map-h').textContent = 'Countries at ' + fmtTime(iso, true);
      $('#map-time-label').textContent = fmtTime(iso, true);
      st = {};
      for (const ev of rangeEvents) {
        if (ev.entity_type !== 'country' || ev.kind === 'peer_event' || Date.parse(ev.start) > at || evEnd(ev) <= at) continue;
        const cur = st[ev.entity_code];
        if (ev.severity === 'critical' || !cur) st[ev.entity_code] = ev.severity === 'critical' ? 'critical' : 'warning';
        if (!rec.has(ev.entity_code)) rec.set(ev.entity_code, `${kindLabel(ev.kind).toLowerCase()} since ${fmtTime(ev.start, true)}`);
      }
    }
    updateMap(st, rec, seen);
  }
  function paint() {
    const list = hidePeers.checked ? rangeEvents.filter(e => e.kind !== 'peer_event') : rangeEvents;
    // The ongoing ones are listed under "Ongoing" (and in the CSV).
    const ended = list.filter(e => e.end);
    recent.replaceChildren(...(ended.length ? groupItems(ended) : [el('li', { class: 'empty' }, (list.length ? 'No other event in ' : 'No event in ') + rangeInfo()[1] + '.')]));
    more.hidden = !cursor;
    const [from, to] = bounds();
    tl.replaceChildren(timeline(rangeEvents, from, to));
    head.replaceChildren(headline(onNow, rangeEvents, 'in ' + rangeInfo()[1], stNow && stNow.judging));
    URL.revokeObjectURL(csvLink.href);
    csvLink.href = URL.createObjectURL(new Blob([eventsCSV(list)], { type: 'text/csv' }));
  }
  hidePeers.addEventListener('change', paint);
  rangeSel.addEventListener('change', () => {
    range = rangeSel.value;
    history.replaceState(null, '', range === '7d' ? '/' : '/?range=' + range);
    refresh();
  });

  async function refresh() {
    try {
      const span = rangeInfo()[2];
      const from = span && live.dataTime ? new Date(Date.parse(live.dataTime) - span).toISOString() : undefined;
      const [st, evs] = await Promise.all([api('/status'), api('/events' + qs({ limit: 200, from }))]);
      if (st.data_time && (!live.dataTime || st.data_time > live.dataTime)) { live.dataTime = st.data_time; showClock(); }
      stNow = st;
      states = st.countries || {};
      seen = new Set(Object.keys(states));
      setJudging(st.judging);
      onNow = (st.ongoing || []).filter(e => e.kind !== 'peer_event' || !hidePeers.checked);
      ongoing.replaceChildren(...groupItems(onNow), ...judgedNote(st.judging, onNow.length));
      mapNote.hidden = !st.judging || st.judging.judged;
      rangeEvents = evs.events || [];
      cursor = evs.next_cursor || null;
      paint(); paintMap();
    } catch (e) {
      ongoing.replaceChildren(el('li', { class: 'error' }, 'Could not load: ' + e.message));
    }
  }
  more.addEventListener('click', async () => {
    if (!cursor) return;
    const span = rangeInfo()[2];
    const from = span && live.dataTime ? new Date(Date.parse(live.dataTime) - span).toISOString() : undefined;
    const evs = await api('/events' + qs({ limit: 200, from, cursor }));
    rangeEvents = rangeEvents.concat(evs.events || []);
    cursor = evs.next_cursor || null;
    paint();
  });
  await refresh();
  const again = throttle(refresh, 1000);
  const tickRefresh = throttle(refresh, 15000);
  return { onLive: m => (m.type === 'notice' ? again() : tickRefresh()), destroy() { URL.revokeObjectURL(csvLink.href); } };
}

// eventsCSV returns a list of events as CSV.
function eventsCSV(events) {
  const cols = ['id', 'entity_type', 'entity_code', 'entity_name', 'kind', 'severity', 'family', 'start', 'end', 'duration_s', 'fraction_lost', 'score', 'explanation'];
  const q = v => (v == null ? '' : /[",\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v));
  const rows = [cols.join(',')];
  for (const ev of events) {
    const sc = eventScore(ev);
    rows.push([ev.id, ev.entity_type, ev.entity_code, ev.entity_name, ev.kind, ev.severity, ev.family, ev.start, ev.end,
      Math.round((evEnd(ev) - Date.parse(ev.start)) / 1000), ev.fraction_lost, sc == null ? '' : sc.toFixed(3), ev.explanation].map(q).join(','));
  }
  return rows.join('\n') + '\n';
}

// stateOf returns the state that the ongoing events of a list give.
function stateOf(events) {
  const on = events.filter(e => !e.end && e.kind !== 'peer_event');
  if (!on.length) return 'normal';
  return on.some(e => e.severity === 'critical') ? 'critical' : 'warning';
}

const SPANS = { '30d': 30 * 864e5, '7d': 7 * 864e5, '2d': 2 * 864e5, '1d': 864e5, '6h': 6 * 36e5 };

async function entityPage(type, code) {
  const ent = await api(`/entities/${type}/${encodeURIComponent(code)}`);
  const params = new URLSearchParams(location.search);
  const title = type === 'asn' ? `AS${ent.code}` : ent.code;
  const families = ent.families || [];
  let family = families.includes(params.get('family')) ? params.get('family') : families.includes('ipv4') ? 'ipv4' : families[0];
  let range = SPANS[params.get('range')] ? params.get('range') : 'all';
  let from = params.get('from') || undefined, until = params.get('until') || undefined;
  let chart = null, events = [];
  document.title = `${ent.name || title} — blackout`;

  const charts = el('div', { class: 'charts', id: 'charts' });
  const evBox = el('div', { id: 'entity-events' });
  // An entity with no data of its own is not judged: no "normal" badge.
  // A page opened before its data came learns it at the next reload of
  // the events (an entity with events has data).
  let noData = !(ent.families || []).length;
  const unjudged = () => el('span', { class: 'badge state-none', title: 'not judged: no prefix of its own in the data' }, type === 'asn' ? 'transit only' : 'no data');
  const stateBox = el('span', { id: 'entity-state' }, noData && ent.state === 'normal' ? unjudged() : stateBadge(ent.state));
  const share = el('p', { class: 'share-links hint' });
  const famTabs = families.length > 1 || families.length === 1 ? el('div', { class: 'seg', role: 'radiogroup', 'aria-label': 'Address family' },
    families.map(f => el('label', {}, el('input', {
      type: 'radio', name: 'family', value: f, checked: f === family,
      onchange: () => { family = f; loadSignals(); },
    }), famLabel(f)))) : null;
  const rangeSel = el('select', { id: 'range', onchange: e => { range = e.target.value; from = until = undefined; loadSignals(); } },
    [['all', 'all data'], ['30d', 'last 30 days'], ['7d', 'last 7 days'], ['2d', 'last 2 days'], ['1d', 'last 24 hours'], ['6h', 'last 6 hours']]
      .map(([v, l]) => el('option', { value: v, selected: v === range }, l)));

  const ups = ent.upstreams || [];
  const upBox = ups.length
    ? el('div', { class: 'table-wrap' }, el('table', { class: 'upstreams' },
      el('thead', {}, el('tr', {}, ['Upstream AS', 'Name', 'Country', 'Share of routes'].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ups.map(u => el('tr', { 'data-asn': u.asn },
        el('td', {}, asLink(u)), el('td', {}, u.name || ''),
        el('td', {}, u.country ? el('a', { href: '/country/' + u.country }, u.country) : ''),
        el('td', { class: 'share' }, el('meter', { min: 0, max: 1, value: u.share || 0 }), ' ', pct(u.share)))))))
    : el('p', { class: 'empty' }, 'No upstream seen yet.');

  const origin = families.length > 0;
  const famText = families.length ? 'address families seen: ' + families.map(famLabel).join(', ')
    : type === 'asn' ? 'originates no prefix in the data' : 'no route to its prefixes seen in the data';
  const extra = el('div', { id: 'entity-extra' });
  mount(
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/' }, 'Overview'), ' › ', type === 'asn' ? 'Network' : 'Country'),
    el('div', { class: 'title' },
      el('h1', {}, ent.name || title, ' ', el('span', { class: 'code' }, title)), stateBox),
    el('p', { class: 'sub', id: 'entity-sub' },
      type === 'asn' ? ['Autonomous system', ent.country ? [' registered in ', el('a', { href: '/country/' + ent.country }, NAMES[ent.country] || ent.country)] : null]
        : 'Country', ' · ', famText),
    type === 'asn' ? extra : null,
    origin ? el('section', { class: 'card', 'aria-labelledby': 'sig-h' },
      el('div', { class: 'card-head' }, el('h2', { id: 'sig-h' }, 'Reachability over time'),
        el('div', { class: 'controls' }, famTabs, el('label', { for: 'range', class: 'vh' }, 'Time range'), rangeSel)),
      el('p', { class: 'hint' }, 'Visible address space against its baseline (grey band: from the baseline down to the partial-outage threshold, −20%); shaded: outages (red), warnings (orange), instability (violet). Times in UTC.'),
      charts, share) : null,
    type === 'country' ? extra : null,
    el('section', { class: 'card', 'aria-labelledby': 'ev-h' }, el('h2', { id: 'ev-h' }, 'Events'), evBox),
    origin || ups.length ? el('section', { class: 'card', 'aria-labelledby': 'up-h' }, el('h2', { id: 'up-h' }, 'Upstream ASes'),
      el('p', { class: 'hint' }, type === 'asn' ? 'The networks through which its routes are reached (the AS before the origin in the paths).'
        : 'The first networks outside the country on the paths to its prefixes.'), upBox) : null);

  if (type === 'asn') loadTransit(ent, extra);
  else loadFragility(ent, extra);

  async function loadEvents() {
    try {
      const r = await api('/events' + qs({ entity_type: type, entity_code: ent.code, limit: 200 }));
      events = r.events || [];
      evBox.replaceChildren(eventTable(events));
      if (noData && events.length) noData = false;
      if (noData) {
        const now = await api(`/entities/${type}/${encodeURIComponent(code)}`);
        noData = !(now.families || []).length;
      }
      const st = stateOf(events);
      stateBox.replaceChildren(noData && st === 'normal' ? unjudged() : stateBadge(st));
    } catch (e) { evBox.replaceChildren(el('p', { class: 'error' }, e.message)); }
  }
  async function loadSignals() {
    if (!origin) return;
    const end = until ? new Date(until) : live.dataTime ? new Date(live.dataTime) : null;
    const start = from || (SPANS[range] && end ? new Date(end.getTime() - SPANS[range]).toISOString() : undefined);
    const p = new URLSearchParams();
    if (family !== 'ipv4') p.set('family', family);
    if (from || until) { if (from) p.set('from', from); if (until) p.set('until', until); } else if (range !== 'all') p.set('range', range);
    const url = location.pathname + (p.toString() ? '?' + p : '');
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
    try {
      const sigPath = `/entities/${type}/${encodeURIComponent(ent.code)}/signals` +
        qs({ family, from: start, until, maxPoints: Math.min(2000, Math.max(300, Math.round(charts.clientWidth || 800))) });
      const sig = await api(sigPath);
      if (chart) chart.destroy();
      chart = drawSignals(charts, sig, events.filter(e => !e.family || e.family === 'all' || e.family === family), nowSec, { origins: type === 'country', title: ent.name || title });
      share.replaceChildren(...shareLinks(type, ent.code, family, sig, chart, start));
    } catch (e) { charts.replaceChildren(el('p', { class: 'error' }, 'Signals unavailable: ' + e.message)); }
  }
  await loadEvents();
  await loadSignals();
  const onResize = throttle(() => chart && chart.resize(), 200);
  window.addEventListener('resize', onResize);
  const evAgain = throttle(loadEvents, 1000);
  const sigAgain = throttle(loadSignals, 5000);
  return {
    onLive(m) {
      if (m.type === 'notice') {
        const e = m.notice.event || {};
        if (e.entity_type === type && String(e.entity_code) === String(ent.code)) { evAgain(); sigAgain(); }
      } else if (!from && !until) sigAgain();
    },
    destroy() { window.removeEventListener('resize', onResize); if (chart) chart.destroy(); },
  };
}

// shareLinks returns the export and share links of a chart: CSV of the
// series, JSON, SVG (drawn by the server), PNG (of the chart drawn here),
// a permalink to the entity, family and time range, and an embed code.
function shareLinks(type, code, family, sig, chart, start) {
  const pts = sig.points || [];
  if (!pts.length || !chart.csv) return [];
  const range = { family, from: pts[0].time || start || '', until: pts[pts.length - 1].time };
  const q = '?' + new URLSearchParams(range);
  const name = `${type}-${code}-${family}`;
  const csv = URL.createObjectURL(new Blob([chart.csv()], { type: 'text/csv' }));
  const png = el('a', { href: '#', class: 'png', download: name + '.png', onclick: async e => {
    if (png.dataset.ready) return;
    e.preventDefault();
    const blob = await chart.png();
    png.href = URL.createObjectURL(blob); png.dataset.ready = '1'; png.click();
  } }, 'PNG');
  const embedURL = `${location.origin}/embed/${type}/${code}${q}`;
  const snippet = `<iframe src="${embedURL}" width="820" height="420" style="border:0" title="blackout chart"></iframe>`;
  return [
    el('a', { href: csv, download: name + '.csv', class: 'csv' }, 'CSV of the series'), ' · ',
    el('a', { href: '/api/v1/entities/' + type + '/' + code + '/signals' + q }, 'JSON'), ' · ',
    el('a', { href: '/api/v1/entities/' + type + '/' + code + '/chart.svg' + q, download: name + '.svg', class: 'svg' }, 'SVG'), ' · ', png, ' · ',
    el('a', { href: location.origin + location.pathname + q, class: 'permalink', title: 'A link to this entity, family and time range' }, 'permalink to this range'), ' · ',
    el('details', { class: 'embed' }, el('summary', {}, 'embed'), el('textarea', { readonly: true, rows: 2, 'aria-label': 'HTML to embed this chart', onfocus: e => e.target.select() }, snippet)),
  ];
}

// embedPage is a chart alone, to put in an iframe: /embed/country/KP?family=ipv4&from=…&until=….
async function embedPage(type, code) {
  document.body.dataset.embed = '1';
  const params = new URLSearchParams(location.search);
  const ent = await api(`/entities/${type}/${encodeURIComponent(code)}`);
  const family = params.get('family') === 'ipv6' ? 'ipv6' : 'ipv4';
  const title = type === 'asn' ? `AS${ent.code}` : ent.code;
  const charts = el('div', { class: 'charts', id: 'charts' });
  mount(el('p', { class: 'embed-title' }, el('a', { href: entityHref(type, ent.code) + location.search, target: '_blank' }, `${ent.name || title} (${title})`), ' · blackout, times in UTC'), charts);
  const [sig, evs] = await Promise.all([
    api(`/entities/${type}/${encodeURIComponent(ent.code)}/signals` + qs({ family, from: params.get('from'), until: params.get('until'), maxPoints: 800 })),
    api('/events' + qs({ entity_type: type, entity_code: ent.code, limit: 200 }))]);
  const chart = drawSignals(charts, sig, (evs.events || []).filter(e => !e.family || e.family === 'all' || e.family === family), nowSec, { origins: type === 'country', only: 1 });
  return { destroy() { chart.destroy(); } };
}

// loadTransit fills box with what an AS carries: the origins and the
// countries reached through it, and its share of each one's routes.
async function loadTransit(ent, box) {
  let t;
  try { t = await api(`/entities/asn/${ent.code}/transit`); } catch (e) { box.replaceChildren(el('p', { class: 'error' }, 'Transit unavailable: ' + e.message)); return; }
  const cs = t.countries || [], os = t.origins || [];
  if (!cs.length && !os.length) {
    if ((ent.families || []).length) { box.replaceChildren(); return; } // an origin only: nothing to add
    box.replaceChildren(el('section', { class: 'card', id: 'transit' }, el('h2', {}, 'As a transit network'), el('p', { class: 'empty' }, 'No origin or country in the data is reached through it.')));
    return;
  }
  const meter = f => [el('meter', { min: 0, max: 1, value: f || 0 }), ' ', pct(f)];
  box.replaceChildren(el('section', { class: 'card', id: 'transit', 'aria-labelledby': 'tr-h' },
    el('h2', { id: 'tr-h' }, 'Who depends on it'),
    el('p', { class: 'transit-sum' }, `AS${t.asn} carries routes to ${num(t.origin_count)} origin AS${t.origin_count === 1 ? '' : 'es'} (about ${num(t.prefixes)} of their prefixes) and is the first network outside ${num(cs.length)} ${cs.length === 1 ? 'country' : 'countries'} on the paths to them` +
      (t.sole_upstream_of ? `; ${num(t.sole_upstream_of)} origin${t.sole_upstream_of === 1 ? ' is' : 's are'} reached through it alone.` : '.')),
    cs.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'transit-countries' },
      el('thead', {}, el('tr', {}, ['Country', 'Share of its upstream paths', 'Rank among its upstreams'].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, cs.map(c => el('tr', { 'data-cc': c.code },
        el('td', {}, el('a', { href: '/country/' + c.code }, `${c.name || NAMES[c.code] || c.code} (${c.code})`)),
        el('td', { class: 'share' }, meter(c.share)), el('td', { class: 'num' }, `${c.rank} of ${c.upstreams}`)))))) : null,
    os.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'transit-origins' },
      el('thead', {}, el('tr', {}, ['Origin AS', 'Name', 'Country', 'Share of its routes', 'Prefixes'].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, os.slice(0, 200).map(o => el('tr', { 'data-asn': o.asn, class: o.share >= 0.999 ? 'sole' : '' },
        el('td', {}, asLink(o)), el('td', {}, o.name || ''), el('td', {}, o.country ? el('a', { href: '/country/' + o.country }, o.country) : ''),
        el('td', { class: 'share' }, meter(o.share)), el('td', { class: 'num' }, num(o.prefixes)))))),
    os.length > 200 ? el('p', { class: 'hint' }, `… and ${os.length - 200} more origins`) : null) : null));
}

// loadFragility fills box with a country's fragility: how few upstreams
// its address space hangs on.
async function loadFragility(ent, box) {
  let f;
  try { f = await api(`/entities/country/${ent.code}/fragility`); } catch (e) { box.replaceChildren(el('p', { class: 'error' }, 'Fragility unavailable: ' + e.message)); return; }
  box.replaceChildren(fragilityCard(f));
}

function fragilityCard(f) {
  const row = (k, v, ...rest) => [el('dt', {}, k), el('dd', {}, v, ...rest)];
  const vs = (x, w) => w ? el('span', { class: 'cmp' }, ` (world median ${num(w.median)}, top ${num(w.top)}${w.top_code ? ' ' + w.top_code : ''}; rank ${w.rank} of ${w.of})`) : null;
  const tops = (f.top_upstreams || []).map((u, i) => [i ? ', ' : '', asLink(u), u.name ? ` ${u.name}` : '']);
  if (!f.prefixes) {
    return el('section', { class: 'card', id: 'fragility', 'aria-labelledby': 'fr-h' }, el('h2', { id: 'fr-h' }, 'Fragility'),
      el('p', { class: 'empty' }, f.note || 'No route to its prefixes in the data: nothing to judge.'));
  }
  return el('section', { class: 'card', id: 'fragility', 'aria-labelledby': 'fr-h' },
    el('div', { class: 'card-head' }, el('h2', { id: 'fr-h' }, 'Fragility: how few networks it hangs on'), el('a', { href: '/fragility' }, 'world ranking')),
    el('p', { class: 'fragility-sum' }, f.summary || ''),
    el('dl', { class: 'facts' },
      row('Prefixes', num(f.prefixes), vs(f.prefixes, f.world && f.world.prefixes)),
      row('Origin ASes', num(f.origins), vs(f.origins, f.world && f.world.origins)),
      row('Upstreams', num(f.upstreams), f.top_upstreams && f.top_upstreams.length ? [' — the largest: ', tops] : null),
      row('Reached only through the top upstream', pct(f.only_top1), ' of its address space'),
      row('Reached only through the top two', pct(f.only_top2), ' of its address space'),
      row('Single-homed origins', `${num(f.single_homed)} of ${num(f.origins_with_upstreams)}`, ' (one upstream only)'),
      f.since ? row('Over the data', `${num(f.prefixes_since)} → ${num(f.prefixes)} prefixes, ${num(f.origins_since)} → ${num(f.origins)} origin ASes since `, timeEl(f.since, true)) : null,
      row('Concentration (HHI)', num(Math.round(f.hhi)), ` of 10,000 over its upstreams' shares${f.hhi >= 2500 ? ': highly concentrated' : f.hhi >= 1500 ? ': moderately concentrated' : ''}`)),
    el('p', { class: 'hint' }, f.method || ''));
}

function withdrawalTimeline(w, start) {
  const f = Date.parse(w.first), l = Date.parse(w.last), s = Date.parse(start);
  const lo = Math.min(f, s), hi = Math.max(l, s);
  const span = Math.max(hi - lo, 1000), pad0 = span * 0.12;
  const W = 360, X0 = 14, X1 = 346;
  const x = t => X0 + ((t - (lo - pad0)) / (span + 2 * pad0)) * (X1 - X0);
  const NS = 'http://www.w3.org/2000/svg';
  const s_ = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const hms = t => fmtTime(new Date(t).toISOString()).slice(11, 19);
  const svg = s_('svg', { viewBox: `0 0 ${W} 86`, class: 'wtl', role: 'img', 'aria-label': `Withdrawals from ${hms(f)} to ${hms(l)} UTC` });
  svg.append(
    s_('line', { x1: X0, x2: X1, y1: 50, y2: 50, class: 'axis' }),
    s_('rect', { x: x(f), y: 36, width: Math.max(x(l) - x(f), 3), height: 28, rx: 3, class: 'spread' }),
    s_('line', { x1: x(f), x2: x(f), y1: 30, y2: 70, class: 'tick' }),
    s_('line', { x1: x(l), x2: x(l), y1: 30, y2: 70, class: 'tick' }),
    s_('text', { x: x(f), y: 84, 'text-anchor': 'middle' }, 'first ' + hms(f)),
    s_('text', { x: x(l), y: 24, 'text-anchor': 'middle' }, 'last ' + hms(l)),
  );
  if (!Number.isNaN(s)) {
    svg.append(s_('path', { d: `M${x(s)},36 l-6,-10 h12 z`, class: 'start' }),
      s_('text', { x: Math.min(x(s) + 10, W - 4), y: 12, 'text-anchor': x(s) > W - 110 ? 'end' : 'start', class: 'start-l' }, 'detected ' + hms(s)));
  }
  const full = w.full_feed_peers || 0;
  return el('div', { class: 'withdrawal' },
    svg,
    el('p', {}, `${num(w.peers)} of ${num(full)} full-feed peers withdrew the routes within ${fmtDur(l - f) || '0s'}.`),
    full ? el('div', { class: 'peerbar', role: 'img', 'aria-label': `${w.peers} of ${full} peers` },
      Array.from({ length: Math.min(full, 200) }, (_, i) => el('span', { class: i < w.peers ? 'gone' : 'kept' }))) : null);
}

// ---------- cause evidence ----------

const CAUSES = {
  origin_side: 'At the network itself or its link to the upstream', upstream_failure: 'A failure of the upstream',
  upstream_cut: 'Cut off one upstream', after_instability: 'After a period of instability', recurring: 'Recurring at this time of day',
  other_origin: 'Another AS announced its prefixes', unknown: 'No cause fits',
};

// evidenceCard renders an event's causes and the routing evidence they
// rest on; null when the event has neither.
function evidenceCard(ev) {
  const causes = ev.causes || [], e = ev.evidence;
  if (!causes.length && !e) return null;
  const rows = [];
  const row = (k, ...v) => rows.push(el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, ...v)));
  if (e) {
    for (const u of e.upstreams || []) {
      const kept = u.other_routes_before ? u.other_routes_after / u.other_routes_before : 1;
      row(['Upstream ', el('a', { href: '/asn/' + u.asn }, `AS${u.asn}`), u.name ? ' ' + u.name : ''],
        `kept ${num(u.other_routes_after)} of its ${num(u.other_routes_before)} other routes (${pct(kept)})`);
    }
    const c = e.convergence;
    if (c) row('Convergence', `${num(c.peers)} peers withdrew within ${fmtDur((c.spread_ns || 0) / 1e6) || '0s'}; ${num(c.path_changes)} path changes before`, c.abrupt ? ' — abrupt: an announcement that stopped' : '');
    const b = e.before;
    if (b) {
      const parts = [];
      if (b.instability_ns) parts.push([`instability for ${fmtDur(b.instability_ns / 1e6)}${b.flaps ? ` (${num(b.flaps)} visibility losses)` : ''}`,
        b.instability_end ? [', ended ', fmtDur(Date.parse(ev.start) - Date.parse(b.instability_end)), ' before the fall'] : '']);
      if (b.upstream_change) parts.push(['upstreams changed at ', timeEl(b.upstream_change)]);
      if (b.updates_hour_before !== undefined) parts.push(`${num(b.updates_hour_before)} route updates in the hour before (normally ${num(b.normal_updates_hour || 0)} an hour)`);
      row('Before', parts.map((p, i) => [i ? '; ' : '', p]));
    }
    if ((e.recurrences || []).length) row('Recurrences', e.recurrences.map((t, i) => [i ? ', ' : '', timeEl(t, true)]));
    for (const o of e.other_origins || []) row('Other origin', el('a', { href: '/asn/' + o.asn }, `AS${o.asn}`), ` announced ${o.prefix} (over ${o.covers}) at `, timeEl(o.seen));
    const s = e.scope;
    if (s) row('Scope', `${num(s.origins)} of ${num(s.country_origins)} origin ASes${s.country ? ' of ' + (NAMES[s.country] || s.country) : ''}`, (s.families || []).length ? ` · ${s.families.map(famLabel).join(' + ')}` : '');
  }
  return el('section', { class: 'card evidence', id: 'evidence', 'aria-labelledby': 'cause-h' },
    el('h2', { id: 'cause-h' }, 'Causes consistent with the routing data'),
    causes.length ? el('ul', { class: 'causes' }, causes.map(c => el('li', { 'data-cause': c.cause }, el('strong', {}, CAUSES[c.cause] || c.cause.replace(/_/g, ' ')), ': ', c.evidence))) : null,
    rows.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'evidence-table' }, el('tbody', {}, rows))) : null,
    e && e.unseen ? el('p', { class: 'hint unseen' }, e.unseen) : null);
}

// ---------- the world ranking of fragility ----------

async function fragilityPage() {
  const r = await api('/fragility');
  document.title = 'Fragility of countries — blackout';
  const list = r.countries || [];
  const meter = f => [el('meter', { min: 0, max: 1, value: f || 0 }), ' ', pct(f)];
  mount(
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/' }, 'Overview'), ' › ', 'Fragility'),
    el('h1', {}, 'Which countries hang on one network'),
    el('p', { class: 'sub' }, `${num(list.length)} countries with routes in the data, the most fragile first: the largest share of address space reached only through one upstream, then the most concentrated upstreams (HHI). Data time ${fmtTime(r.data_time)}.`),
    el('section', { class: 'card' }, list.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'fragility-table' },
      el('thead', {}, el('tr', {}, ['#', 'Country', 'Prefixes', 'Origins', 'Upstreams', 'Largest upstream', 'Only via top 1', 'Only via top 2', 'Single-homed', 'HHI'].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, list.map((f, i) => el('tr', { 'data-cc': f.code },
        el('td', { class: 'num' }, i + 1),
        el('td', {}, el('a', { href: '/country/' + f.code }, `${f.name || f.code} (${f.code})`)),
        el('td', { class: 'num' }, num(f.prefixes)), el('td', { class: 'num' }, num(f.origins)), el('td', { class: 'num' }, num(f.upstreams)),
        el('td', {}, (f.top_upstreams || []).length ? [asLink(f.top_upstreams[0]), ` ${pct(f.top_upstreams[0].share)}`] : '—'),
        el('td', { class: 'share' }, meter(f.only_top1)), el('td', { class: 'share' }, meter(f.only_top2)),
        el('td', { class: 'num' }, `${num(f.single_homed)}/${num(f.origins_with_upstreams)}`), el('td', { class: 'num' }, num(f.hhi))))))) : el('p', { class: 'empty' }, 'No country has routes in the data yet.')),
    el('p', { class: 'hint' }, r.method || ''));
  return { destroy() {} };
}

async function eventPage(id) {
  const ev = await api('/events/' + encodeURIComponent(id));
  document.title = `${kindLabel(ev.kind)}: ${entityTitle(ev)} — blackout`;
  const href = entityHref(ev.entity_type, ev.entity_code);
  const dur = fmtDur((ev.end ? Date.parse(ev.end) : nowMs()) - Date.parse(ev.start));
  const chartBox = el('div', { class: 'charts' });

  const facts = [];
  const fact = (k, ...v) => facts.push(el('dt', {}, k), el('dd', {}, ...v));
  fact('Entity', href ? el('a', { href, class: 'entity-link' }, entityTitle(ev)) : entityTitle(ev));
  fact('Kind', kindLabel(ev.kind), ' ', sevBadge(ev.severity));
  fact('Started', timeEl(ev.start));
  fact('Ended', ev.end ? [timeEl(ev.end), ` (after ${dur})`] : el('span', { class: 'badge ongoing' }, `ongoing for ${dur}`));
  if (ev.family) fact('Family', ev.family);
  if (ev.fraction_lost) fact('Lost', pct(ev.fraction_lost), ' of the visible address space');
  if (ev.baseline) fact('Visible space', `${num(ev.baseline)} ${ev.unit || ''} normally → ${num(ev.lowest || 0)} at the lowest`);
  if (ev.affected_prefixes) fact('Affected prefixes', num(ev.affected_prefixes));
  if (ev.flaps) fact('Visibility losses', num(ev.flaps));
  if (ev.churn_ratio) fact('Churn', `${num(ev.churn_ratio)} × its normal`);
  if (ev.preceded_by_instability) fact('Preceded by', el('a', { href: `/event/${ev.preceded_by_instability}` }, `instability (event ${ev.preceded_by_instability})`));
  if (ev.peer_as) fact('Peer', `AS${ev.peer_as}`, ev.peer_collector ? ` at ${ev.peer_collector}` : '');
  if (ev.cause) fact('Cause', ev.cause.replace(/_/g, ' '));
  if (ev.peer_routes) fact('Routes of the peer', num(ev.peer_routes));

  const asTable = (list, withShare) => el('ul', { class: 'aslist' }, list.map(a => el('li', { 'data-asn': a.asn },
    asLink(a), a.name ? ` ${a.name}` : '', a.country ? el('span', { class: 'cc' }, ` (${a.country})`) : '',
    withShare && a.share ? el('span', { class: 'share' }, ` ${pct(a.share)} of routes`) : '')));
  const ups = ev.upstream_ases && ev.upstream_ases.length ? ev.upstream_ases : (ev.upstreams_before || []).map(asn => ({ asn }));
  const origins = ev.origin_ases && ev.origin_ases.length ? ev.origin_ases : (ev.origins || []).map(asn => ({ asn }));
  const prefixes = ev.prefixes || [];
  const section = (id, title, ...body) => el('section', { class: 'card', 'aria-labelledby': id }, el('h2', { id }, title), ...body);

  // The origin and the upstreams next to it have pages; the ASes further
  // along the path are not followed (their pages would say "not seen").
  const known = new Set([...(ev.upstreams_before || []), ...ups.map(u => u.asn), ...(ev.origins || []), ...origins.map(o => o.asn)].map(String));
  const pathItem = p => el('li', {}, el('code', {}, String(p).split(' ').map((a, i, all) => [i ? ' ' : '',
    /^\d+$/.test(a) && known.has(a) ? el('a', { href: '/asn/' + a, class: i === all.length - 1 ? 'origin' : '' }, a)
      : el('span', { title: /^\d+$/.test(a) && Number(a) >= 64512 ? 'a private AS number' : 'a network further along the path: blackout follows origins and their upstreams' }, a)])));

  mount(
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/' }, 'Overview'), ' › ',
      href ? el('a', { href }, entityTitle(ev)) : entityTitle(ev), ' › ', `event ${ev.id}`),
    el('div', { class: `title ev-title sev-${ev.severity}` },
      el('h1', {}, el('span', { class: `badge sev-${ev.severity}` }, kindLabel(ev.kind)), ' ', entityTitle(ev)),
      ev.end ? null : el('span', { class: 'badge ongoing' }, 'ongoing')),
    el('p', { class: 'sub' }, fmtTime(ev.start), ' → ', ev.end ? fmtTime(ev.end) : 'now', ` (${dur})`),
    el('section', { class: 'card explain', 'aria-labelledby': 'why-h' }, el('h2', { id: 'why-h' }, 'What happened'),
      el('p', { class: 'explanation' }, ev.explanation || 'No explanation.')),
    evidenceCard(ev),
    el('div', { class: 'two' },
      section('facts-h', 'Facts', el('dl', { class: 'facts' }, facts)),
      ev.withdrawal ? section('wd-h', 'Withdrawal over the vantage points', withdrawalTimeline(ev.withdrawal, ev.start)) : null,
      ups.length ? section('up-h', ev.kind === 'upstream_change' ? 'Upstreams before' : 'Reached through (upstreams)', el('div', { id: 'upstreams' }, asTable(ups, true))) : null,
      ev.upstreams_lost && ev.upstreams_lost.length ? section('lost-h', 'Upstreams lost', asTable(ev.upstreams_lost.map(asn => ({ asn })))) : null,
      ev.upstreams_gained && ev.upstreams_gained.length ? section('gain-h', 'Upstreams gained', asTable(ev.upstreams_gained.map(asn => ({ asn })))) : null,
      origins.length ? section('or-h', 'Origin ASes', asTable(origins)) : null,
      prefixes.length ? section('px-h', `Prefixes (${num(prefixes.length)})`, el('ul', { class: 'prefixes' }, prefixes.slice(0, 500).map(p => el('li', {}, el('code', {}, p)))),
        prefixes.length > 500 ? el('p', {}, `… and ${prefixes.length - 500} more`) : null) : null,
      ev.paths_before && ev.paths_before.length ? section('paths-h', 'Last AS paths seen', el('ol', { class: 'paths' }, ev.paths_before.map(pathItem))) : null),
    href ? el('section', { class: 'card', 'aria-labelledby': 'ctx-h' }, el('h2', { id: 'ctx-h' }, 'Around the event'), chartBox) : null);

  let chart = null;
  if (href) {
    try {
      const s = Date.parse(ev.start), e = ev.end ? Date.parse(ev.end) : nowMs();
      const padMs = Math.max((e - s) * 0.5, 6 * 36e5);
      const fam = ev.family && ev.family !== 'all' ? ev.family : 'ipv4';
      const sig = await api(`/entities/${ev.entity_type}/${encodeURIComponent(ev.entity_code)}/signals` +
        qs({ family: fam, from: new Date(s - padMs).toISOString(), until: new Date(e + padMs).toISOString(), maxPoints: 600 }));
      chart = drawSignals(chartBox, sig, [ev], nowSec);
    } catch (err) { chartBox.replaceChildren(el('p', { class: 'empty' }, 'Signals unavailable: ' + err.message)); }
  }
  const onResize = throttle(() => chart && chart.resize(), 200);
  window.addEventListener('resize', onResize);
  const again = throttle(() => route(true), 2000);
  return {
    onLive(m) { if (m.type === 'notice' && m.notice.event && m.notice.event.id === ev.id) again(); },
    destroy() { window.removeEventListener('resize', onResize); if (chart) chart.destroy(); },
  };
}

// ---------- router ----------

let routeSeq = 0;
async function route(keepScroll) {
  const seq = ++routeSeq;
  if (page) { try { page.destroy(); } catch { /* ignore */ } page = null; }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let m;
  document.title = 'blackout — Internet outages from BGP';
  try {
    let p;
    if (path === '/' || path === '/index.html') p = await homePage();
    else if ((m = path.match(/^\/country\/([A-Za-z]{2})$/))) p = await entityPage('country', m[1].toUpperCase());
    else if ((m = path.match(/^\/asn?\/(?:AS)?(\d+)$/i))) p = await entityPage('asn', m[1]);
    else if ((m = path.match(/^\/event\/(\d+)$/))) p = await eventPage(m[1]);
    else if (path === '/fragility') p = await fragilityPage();
    else if ((m = path.match(/^\/embed\/(country|asn)\/([A-Za-z0-9]+)$/))) p = await embedPage(m[1], m[1] === 'country' ? m[2].toUpperCase() : m[2]);
    else throw new HTTPError(404, `No page at ${path}.`);
    if (seq !== routeSeq) { p.destroy(); return; }
    page = p;
    document.body.dataset.page = path === '/' ? 'home' : path.split('/')[1];
    document.body.dataset.ready = String(seq);
  } catch (e) {
    if (seq === routeSeq) mount(errorBox(e));
  }
  if (!keepScroll) window.scrollTo(0, 0);
}

function navigate(href) {
  if (href === location.pathname + location.search) return;
  history.pushState(null, '', href);
  route();
  $('#main').focus({ preventScroll: true });
}

document.addEventListener('click', e => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a');
  if (!a) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/') || a.target) return;
  e.preventDefault();
  closeSearch();
  navigate(href);
});
window.addEventListener('popstate', () => route());

// ---------- search ----------

const q = $('#q'), results = $('#search-results');
let searchSeq = 0, active = -1;
function closeSearch() { results.hidden = true; q.setAttribute('aria-expanded', 'false'); active = -1; }
function setActive(i) {
  const items = [...results.querySelectorAll('[role=option]')];
  if (!items.length) return;
  active = (i + items.length) % items.length;
  items.forEach((it, k) => it.setAttribute('aria-selected', String(k === active)));
  q.setAttribute('aria-activedescendant', items[active].id);
}
const doSearch = throttle(async () => {
  const text = q.value.trim();
  const seq = ++searchSeq;
  if (!text) { closeSearch(); return; }
  let ents = [];
  try { ents = (await api('/entities' + qs({ q: text, limit: 10 }))).entities || []; } catch { ents = []; }
  if (seq !== searchSeq) return;
  const asn = text.match(/^(?:AS)?\s*(\d{1,10})$/i);
  if (asn && !ents.some(e => e.type === 'asn' && String(e.code) === asn[1])) ents.push({ type: 'asn', code: asn[1], name: '' });
  results.replaceChildren(...(ents.length ? ents.map((e, i) => el('li', { role: 'option', id: `sr-${i}`, 'aria-selected': 'false' },
    el('a', { href: entityHref(e.type, e.code), tabindex: -1 },
      el('span', { class: 'code' }, e.type === 'asn' ? `AS${e.code}` : e.code), ' ', e.name || (e.type === 'country' ? NAMES[e.code] || '' : ''),
      e.state && e.state !== 'normal' ? stateBadge(e.state) : null,
      e.ongoing ? el('span', { class: 'meta' }, ` ${e.ongoing} ongoing`) : null)))
    : [el('li', { class: 'empty' }, 'No country or AS matches.')]));
  results.dataset.for = text;
  results.hidden = false;
  q.setAttribute('aria-expanded', 'true');
  active = -1;
}, 150);
q.addEventListener('input', doSearch);
q.addEventListener('keydown', e => {
  if (e.key === 'ArrowDown') { e.preventDefault(); setActive(active + 1); }
  else if (e.key === 'ArrowUp') { e.preventDefault(); setActive(active - 1); }
  else if (e.key === 'Escape') closeSearch();
});
$('#search').addEventListener('submit', async e => {
  e.preventDefault();
  const text = q.value.trim();
  let href = null;
  const items = results.querySelectorAll('[role=option] a');
  if (items.length && results.dataset.for === text) href = items[active >= 0 ? active : 0].getAttribute('href');
  else if (text) {
    // Enter before the suggestions came: search now and go to the first match.
    const asn = text.match(/^(?:AS)?\s*(\d{1,10})$/i);
    try {
      const ents = (await api('/entities' + qs({ q: text, limit: 1 }))).entities || [];
      if (ents.length) href = entityHref(ents[0].type, ents[0].code);
    } catch { /* fall through */ }
    if (!href && asn) href = '/asn/' + asn[1];
  }
  if (href) { searchSeq++; closeSearch(); q.blur(); navigate(href); }
});
document.addEventListener('click', e => { if (!e.target.closest('#search')) closeSearch(); });

// ---------- start ----------

live.listeners.add(m => { if (page && page.onLive) page.onLive(m); });
fetchHealth().then(h => {
  showHealth(h);
  if (h.data_time && (!live.dataTime || h.data_time > live.dataTime)) live.dataTime = h.data_time;
  if (typeof h.route_events === 'number') live.routeEvents = h.route_events;
  live.running = !!h.running;
  if (h.version) $('#version').textContent = '· version ' + h.version;
  showClock();
  setJudging(h.judging);
}).catch(() => {});
live.listeners.add(m => { if (m.type === 'tick') refreshHealth(); });
connectStream();
route();
