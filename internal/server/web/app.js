// blackout dashboard: a small single-page app over /api/v1, in plain JS.
import { NAMES } from './iso3166.js';
import { createMap } from './map.js';
import { drawSignals } from './chart.js';

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

// fmtDur formats like the text report: 59m59s, 9h31m, 2d09h.
function fmtDur(ms) {
  if (!(ms >= 0)) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor(s / 3600) % 24)}h`;
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
}

function connectStream() {
  if (!window.EventSource) return;
  const es = new EventSource('/api/v1/stream');
  // Give the connection back at once when the page goes: browsers allow
  // only six connections per server over HTTP/1.1.
  window.addEventListener('pagehide', () => es.close());
  const dot = $('#live');
  es.onopen = () => { dot.className = 'live on'; dot.setAttribute('aria-label', 'live feed connected'); };
  es.onerror = () => { dot.className = 'live off'; dot.setAttribute('aria-label', 'live feed disconnected'); };
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
const refreshHealth = throttle(() => fetchHealth().then(h => { showHealth(h); setJudging(h.judging); }).catch(() => {}), 15000);
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

function eventItem(ev) {
  const ongoing = !ev.end;
  const dur = fmtDur((ev.end ? Date.parse(ev.end) : nowMs()) - Date.parse(ev.start));
  const meta = [fmtTime(ev.start), ongoing ? `ongoing for ${dur}` : dur];
  if (ev.fraction_lost) meta.push(`lost ${pct(ev.fraction_lost)}`);
  if (ev.family && ev.family !== 'all') meta.push(ev.family);
  return el('li', {
    class: `ev sev-${ev.severity} kind-${ev.kind}${ongoing ? ' ongoing' : ''}`,
    'data-event-id': ev.id, 'data-entity': `${ev.entity_type}:${ev.entity_code}`, 'data-kind': ev.kind,
  },
  el('a', { href: `/event/${ev.id}` },
    el('span', { class: `badge sev-${ev.severity}` }, kindLabel(ev.kind)),
    ongoing ? el('span', { class: 'badge ongoing' }, 'ongoing') : null,
    ' ', el('strong', { class: 'who' }, entityTitle(ev)),
    el('span', { class: 'meta' }, meta.join(' · '))));
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
function firstSentence(s) {
  if (!s) return '';
  const i = s.indexOf('. ');
  return i > 0 && i < 220 ? s.slice(0, i + 1) : (s.length > 220 ? s.slice(0, 217) + '…' : s);
}

// ---------- pages ----------

let page = null; // {destroy(), onLive(msg)}
const mount = (...kids) => { const m = $('#main'); m.replaceChildren(...kids); return m; };
function errorBox(err) {
  if (err instanceof HTTPError && err.status === 404) {
    return el('div', { class: 'error', role: 'alert' }, el('h1', {}, 'Not found'), el('p', {}, err.message),
      /^\/asn?\//i.test(location.pathname) ? el('p', { class: 'hint' }, 'blackout follows a network by the prefixes it originates; a transit network that originates none in the data has no page, but it is named as an upstream on the pages of the networks and countries it carries.') : null,
      el('p', {}, el('a', { href: '/' }, 'Back to the overview')));
  }
  return el('div', { class: 'error', role: 'alert' }, el('h1', {}, 'Something went wrong'), el('p', {}, String(err.message || err)));
}

async function homePage() {
  const mapBox = el('div', { class: 'map', id: 'map' });
  const ongoing = el('ul', { class: 'events', id: 'ongoing' });
  const recent = el('ul', { class: 'events', id: 'recent' });
  const more = el('button', { type: 'button', class: 'more', hidden: true }, 'Older events');
  const hidePeers = el('input', { type: 'checkbox', id: 'hide-peers', checked: true });
  mount(
    el('h1', { class: 'vh' }, 'Internet outages now'),
    el('div', { class: 'home' },
      el('section', { class: 'card map-card', 'aria-labelledby': 'map-h' },
        el('h2', { id: 'map-h' }, 'Countries now'),
        mapBox,
        el('ul', { class: 'legend', 'aria-label': 'Legend' },
          el('li', {}, el('span', { class: 'sw state-normal' }), 'normal'),
          el('li', {}, el('span', { class: 'sw state-warning' }), 'warning'),
          el('li', {}, el('span', { class: 'sw state-critical' }), 'critical'),
          el('li', {}, el('span', { class: 'sw recent' }), 'recent event'))),
      el('div', { class: 'lists' },
        el('section', { class: 'card', 'aria-labelledby': 'ongoing-h' }, el('h2', { id: 'ongoing-h' }, 'Ongoing'), ongoing),
        el('section', { class: 'card', 'aria-labelledby': 'recent-h' },
          el('div', { class: 'card-head' }, el('h2', { id: 'recent-h' }, 'Recent events'),
            el('label', { class: 'toggle' }, hidePeers, ' hide vantage-point events')),
          recent, more))));

  // judgedNote says what "nothing ongoing" covers: only the families
  // judged; where none is, "Not judged yet" and why.
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
  let cursor = null, recentEvents = [];
  createMap(mapBox).then(u => { updateMap = u; paintMap(); }).catch(e => mapBox.replaceChildren(el('p', { class: 'error' }, 'Map unavailable: ' + e.message)));
  let states = {};

  function paintMap() {
    if (!updateMap) return;
    const rec = new Map();
    for (const ev of recentEvents) {
      if (ev.entity_type !== 'country' || rec.has(ev.entity_code)) continue;
      rec.set(ev.entity_code, `${kindLabel(ev.kind).toLowerCase()} ${ev.end ? 'on ' + fmtTime(ev.start, true) : 'ongoing since ' + fmtTime(ev.start, true)}`);
    }
    updateMap(states, rec);
  }
  function paintRecent() {
    const list = hidePeers.checked ? recentEvents.filter(e => e.kind !== 'peer_event') : recentEvents;
    recent.replaceChildren(...(list.length ? list.map(eventItem) : [el('li', { class: 'empty' }, 'No events yet.')]));
    more.hidden = !cursor;
  }
  hidePeers.addEventListener('change', paintRecent);

  async function refresh() {
    try {
      const [st, evs] = await Promise.all([api('/status'), api('/events' + qs({ limit: 30 }))]);
      if (st.data_time && (!live.dataTime || st.data_time > live.dataTime)) { live.dataTime = st.data_time; showClock(); }
      states = st.countries || {};
      setJudging(st.judging);
      const on = st.ongoing || [];
      ongoing.replaceChildren(...on.map(eventItem), ...judgedNote(st.judging, on.length));
      mapNote.hidden = !st.judging || st.judging.judged;
      recentEvents = evs.events || [];
      cursor = evs.next_cursor || null;
      paintRecent(); paintMap();
    } catch (e) {
      ongoing.replaceChildren(el('li', { class: 'error' }, 'Could not load: ' + e.message));
    }
  }
  more.addEventListener('click', async () => {
    if (!cursor) return;
    const evs = await api('/events' + qs({ limit: 30, cursor }));
    recentEvents = recentEvents.concat(evs.events || []);
    cursor = evs.next_cursor || null;
    paintRecent();
  });
  await refresh();
  const again = throttle(refresh, 1000);
  const tickRefresh = throttle(refresh, 15000);
  return { onLive: m => (m.type === 'notice' ? again() : tickRefresh()), destroy() {} };
}

async function entityPage(type, code) {
  const ent = await api(`/entities/${type}/${encodeURIComponent(code)}`);
  const title = type === 'asn' ? `AS${ent.code}` : ent.code;
  const families = ent.families && ent.families.length ? ent.families : ['ipv4'];
  let family = families.includes('ipv4') ? 'ipv4' : families[0];
  let range = 'all';
  let chart = null, events = [];
  document.title = `${ent.name || title} — blackout`;

  const charts = el('div', { class: 'charts', id: 'charts' });
  const evBox = el('div', { id: 'entity-events' });
  const stateEl = stateBadge(ent.state);
  const famTabs = el('div', { class: 'seg', role: 'radiogroup', 'aria-label': 'Address family' },
    families.map(f => el('label', {}, el('input', {
      type: 'radio', name: 'family', value: f, checked: f === family,
      onchange: () => { family = f; loadSignals(); },
    }), f === 'ipv4' ? 'IPv4' : f === 'ipv6' ? 'IPv6' : f)));
  const rangeSel = el('select', { id: 'range', onchange: e => { range = e.target.value; loadSignals(); } },
    [['all', 'all data'], ['7d', 'last 7 days'], ['2d', 'last 2 days'], ['1d', 'last 24 hours'], ['6h', 'last 6 hours']]
      .map(([v, l]) => el('option', { value: v }, l)));

  const ups = ent.upstreams || [];
  const upBox = ups.length
    ? el('div', { class: 'table-wrap' }, el('table', { class: 'upstreams' },
      el('thead', {}, el('tr', {}, ['Upstream AS', 'Name', 'Country', 'Share of routes'].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ups.map(u => el('tr', { 'data-asn': u.asn },
        el('td', {}, asLink(u)), el('td', {}, u.name || ''),
        el('td', {}, u.country ? el('a', { href: '/country/' + u.country }, u.country) : ''),
        el('td', { class: 'share' }, el('meter', { min: 0, max: 1, value: u.share || 0 }), ' ', pct(u.share)))))))
    : el('p', { class: 'empty' }, 'No upstream seen yet.');

  mount(
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/' }, 'Overview'), ' › ', type === 'asn' ? 'Network' : 'Country'),
    el('div', { class: 'title' },
      el('h1', {}, ent.name || title, ' ', el('span', { class: 'code' }, title)), stateEl),
    el('p', { class: 'sub' },
      type === 'asn' ? ['Autonomous system', ent.country ? [' registered in ', el('a', { href: '/country/' + ent.country }, NAMES[ent.country] || ent.country)] : null]
        : 'Country', ' · address families seen: ', families.join(', ')),
    el('section', { class: 'card', 'aria-labelledby': 'sig-h' },
      el('div', { class: 'card-head' }, el('h2', { id: 'sig-h' }, 'Reachability over time'),
        el('div', { class: 'controls' }, famTabs, el('label', { for: 'range', class: 'vh' }, 'Time range'), rangeSel)),
      el('p', { class: 'hint' }, 'Visible address space against its baseline (grey band: from the baseline down to the partial-outage threshold, −20%); shaded: outages (red), warnings (orange), instability (violet).'),
      charts),
    el('section', { class: 'card', 'aria-labelledby': 'ev-h' }, el('h2', { id: 'ev-h' }, 'Events'), evBox),
    el('section', { class: 'card', 'aria-labelledby': 'up-h' }, el('h2', { id: 'up-h' }, 'Upstream ASes'),
      el('p', { class: 'hint' }, 'The networks through which its routes are reached (the AS before the origin in the paths).'), upBox));

  async function loadEvents() {
    try {
      const r = await api('/events' + qs({ entity_type: type, entity_code: ent.code, limit: 200 }));
      events = r.events || [];
      evBox.replaceChildren(eventTable(events));
      const ongoing = events.find(e => !e.end && e.kind !== 'peer_event');
      if (ongoing) stateEl.replaceWith(Object.assign(stateBadge(ongoing.severity), {}));
    } catch (e) { evBox.replaceChildren(el('p', { class: 'error' }, e.message)); }
  }
  async function loadSignals() {
    const spans = { '7d': 7 * 864e5, '2d': 2 * 864e5, '1d': 864e5, '6h': 6 * 36e5 };
    const until = live.dataTime ? new Date(live.dataTime) : null;
    const from = spans[range] && until ? new Date(until.getTime() - spans[range]).toISOString() : undefined;
    try {
      const sig = await api(`/entities/${type}/${encodeURIComponent(ent.code)}/signals` +
        qs({ family, from, maxPoints: Math.min(2000, Math.max(300, Math.round(charts.clientWidth || 800))) }));
      if (chart) chart.destroy();
      chart = drawSignals(charts, sig, events.filter(e => !e.family || e.family === 'all' || e.family === family), nowSec);
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
      } else sigAgain();
    },
    destroy() { window.removeEventListener('resize', onResize); if (chart) chart.destroy(); },
  };
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

  const pathItem = p => el('li', {}, el('code', {}, String(p).split(' ').map((a, i, all) => [i ? ' ' : '',
    /^\d+$/.test(a) && Number(a) < 64512 ? el('a', { href: '/asn/' + a, class: i === all.length - 1 ? 'origin' : '' }, a) : a])));

  mount(
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/' }, 'Overview'), ' › ',
      href ? el('a', { href }, entityTitle(ev)) : entityTitle(ev), ' › ', `event ${ev.id}`),
    el('div', { class: `title ev-title sev-${ev.severity}` },
      el('h1', {}, el('span', { class: `badge sev-${ev.severity}` }, kindLabel(ev.kind)), ' ', entityTitle(ev)),
      ev.end ? null : el('span', { class: 'badge ongoing' }, 'ongoing')),
    el('p', { class: 'sub' }, fmtTime(ev.start), ' → ', ev.end ? fmtTime(ev.end) : 'now', ` (${dur})`),
    el('section', { class: 'card explain', 'aria-labelledby': 'why-h' }, el('h2', { id: 'why-h' }, 'What happened'),
      el('p', { class: 'explanation' }, ev.explanation || 'No explanation.')),
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
  if (h.version) $('#version').textContent = '· version ' + h.version;
  showClock();
  setJudging(h.judging);
}).catch(() => {});
live.listeners.add(m => { if (m.type === 'tick') refreshHealth(); });
connectStream();
route();
