// Signal charts with uPlot: visible address space against its baseline
// band, events shaded; prefixes and origins; churn. Every time is UTC and
// written the ISO way (2014-12-22, 16:15), as everywhere else in blackout.
/* global uPlot */

const SEV_FILL = { critical: 'rgba(215,48,31,0.16)', warning: 'rgba(242,169,59,0.20)' };
const PARTIAL = 0.8; // the detector's partial-outage threshold: losing 20% of the baseline

const utc = ts => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
const pad = n => String(n).padStart(2, '0');
const isoDay = d => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const isoHM = d => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;

// isoTicks labels the time axis: HH:MM, with the date under the first tick
// and under every tick that starts a new day; dates alone when the ticks
// are a day or more apart.
export function isoTicks(u, splits, axisIdx, foundSpace, foundIncr) {
  let lastDay = '';
  return splits.map(ts => {
    const d = new Date(ts * 1e3), day = isoDay(d);
    if (foundIncr >= 86400) return day;
    const lbl = day !== lastDay ? `${isoHM(d)}\n${day}` : isoHM(d);
    lastDay = day;
    return lbl;
  });
}

// fmtLegendTime writes a point's time in the legend.
const fmtLegendTime = (u, ts) => (ts == null ? '—' : `${isoDay(new Date(ts * 1e3))} ${isoHM(new Date(ts * 1e3))} UTC`);
const fmtLegendNum = (u, v) => (v == null ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: 1 }));

// Shade the events behind the series.
function eventsPlugin(events, nowSec) {
  return {
    hooks: {
      drawClear: u => {
        const { ctx, bbox } = u;
        ctx.save();
        for (const ev of events) {
          if (ev.kind === 'peer_event') continue;
          const s = Date.parse(ev.start) / 1e3, e = ev.end ? Date.parse(ev.end) / 1e3 : nowSec();
          let x0 = u.valToPos(s, 'x', true), x1 = u.valToPos(e, 'x', true);
          x0 = Math.max(x0, bbox.left); x1 = Math.min(x1, bbox.left + bbox.width);
          if (x1 < x0) continue;
          ctx.fillStyle = ev.kind === 'instability' ? 'rgba(117,107,177,0.13)' : (SEV_FILL[ev.severity] || SEV_FILL.warning);
          ctx.fillRect(x0, bbox.top, Math.max(x1 - x0, 2), bbox.height);
        }
        ctx.restore();
      },
    },
  };
}

// lastPointLegend shows the last point's values in the legend while the
// cursor is off the chart (uPlot shows "--" then).
function lastPointLegend() {
  const last = u => {
    const n = u.data[0].length;
    if (n) u.setLegend({ idx: n - 1 }, false);
  };
  return { hooks: { ready: last, setCursor: u => { if (u.cursor.idx == null) last(u); } } };
}

function base(title, width, height, events, nowSec, yLabel) {
  return {
    title, width, height, tzDate: utc,
    cursor: { sync: { key: 'signals' } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [{ label: 'time (UTC)', labelSize: 18, values: isoTicks, space: 70, size: 48 }, { label: yLabel, size: 60 }],
    plugins: [eventsPlugin(events, nowSec), lastPointLegend()],
  };
}

// seriesCSV returns the CSV of a signals response (one row a point).
export function seriesCSV(sig, withOrigins) {
  const cols = ['time', 'space', 'min_space', 'baseline', 'prefixes'].concat(withOrigins ? ['origins'] : [], ['churn']);
  const rows = [cols.join(',')];
  for (const p of sig.points || []) rows.push(cols.map(c => (p[c] ?? '')).join(','));
  return rows.join('\n') + '\n';
}

// drawSignals draws three charts in container from a signals response and
// the entity's events. opts.origins=false leaves out the origin-AS line (an
// AS page: the AS is its own only origin). It returns {resize(), destroy()}.
export function drawSignals(container, sig, events, nowSec, opts = {}) {
  const pts = sig.points || [];
  const xs = pts.map(p => Date.parse(p.time) / 1e3);
  const num = v => (v === undefined || v === null || Number.isNaN(v) ? null : v);
  const unit = sig.unit || '/24';
  const withOrigins = opts.origins !== false;
  const width = () => Math.max(280, (container.clientWidth || container.parentElement.clientWidth || 600) - 4);
  const plots = [];
  container.replaceChildren();
  const note = text => { const p = document.createElement('p'); p.className = 'empty'; p.textContent = text; container.append(p); };
  if (!pts.length) {
    note('No signal data for this range: no bin was stored for it.');
    return { resize() {}, destroy() {} };
  }
  if (!pts.some(p => p.space > 0 || p.baseline > 0 || p.prefixes > 0)) {
    note(`Nothing routed to it was seen in this range (${fmtLegendTime(null, xs[0])} to ${fmtLegendTime(null, xs[xs.length - 1])}): no visible ${sig.family} address space, no prefix, so there is no curve to draw.`);
    return { resize() {}, destroy() {} };
  }
  const mk = (o, data, cls) => {
    const div = document.createElement('div'); div.className = 'chart ' + cls; container.append(div);
    o.series[0] = { label: 'time (UTC)', value: fmtLegendTime };
    for (let i = 1; i < o.series.length; i++) o.series[i].value = fmtLegendNum;
    plots.push(new uPlot(o, data, div));
  };
  const small = window.innerWidth < 640;

  const o1 = base(`Visible address space (${unit} blocks, ${sig.family})`, width(), small ? 230 : 270, events, nowSec, unit);
  o1.series = [
    {},
    { label: 'visible', stroke: '#1f5fa8', width: 2 },
    { label: 'lowest in bin', stroke: '#1f5fa8', width: 1, dash: [3, 3] },
    { label: 'baseline', stroke: '#333', width: 1.5, dash: [8, 4] },
    { label: 'baseline −20%', stroke: 'rgba(0,0,0,0.18)', width: 1 },
  ];
  o1.bands = [{ series: [3, 4], fill: 'rgba(80,80,80,0.10)' }];
  o1.scales.y = { range: (u, min, max) => [0, Math.max(1, max * 1.1)] };
  mk(o1, [xs, pts.map(p => num(p.space)), pts.map(p => num(p.min_space)),
    pts.map(p => num(p.baseline)), pts.map(p => (p.baseline ? p.baseline * PARTIAL : null))], 'space');

  if (opts.only === 1) return { csv: () => seriesCSV(sig, withOrigins), resize() {}, destroy() { for (const p of plots) p.destroy(); } };

  const o2 = base(withOrigins ? 'Prefixes and origin ASes' : 'Visible prefixes', width(), small ? 170 : 190, events, nowSec, 'count');
  o2.series = [{}, { label: 'prefixes', stroke: '#2b8a3e', width: 1.5 }];
  const d2 = [xs, pts.map(p => num(p.prefixes))];
  if (withOrigins) { o2.series.push({ label: 'origin ASes', stroke: '#a05a00', width: 1.5 }); d2.push(pts.map(p => num(p.origins))); }
  o2.scales.y = { range: (u, min, max) => [0, Math.max(1, max * 1.1)] };
  mk(o2, d2, 'counts');

  const o3 = base('Churn (route updates per bin)', width(), small ? 150 : 160, events, nowSec, 'updates');
  o3.series = [{}, { label: 'churn', stroke: '#756bb1', fill: 'rgba(117,107,177,0.35)', paths: uPlot.paths.bars({ size: [0.9, 8] }), points: { show: false } }];
  o3.scales.y = { range: (u, min, max) => [0, Math.max(1, max * 1.1)] };
  mk(o3, [xs, pts.map(p => num(p.churn))], 'churn');

  return {
    csv: () => seriesCSV(sig, withOrigins),
    // png returns a PNG of the first chart (visible space) with its title
    // and the range in UTC, white behind.
    png() {
      const u = plots[0], src = u.ctx.canvas, pad = 36 * devicePixelRatio;
      const c = document.createElement('canvas');
      c.width = src.width; c.height = src.height + pad;
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
      ctx.fillStyle = '#1c2430'; ctx.font = `600 ${15 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.fillText(`${opts.title || ''} ${o1.title} · ${fmtLegendTime(null, xs[0])} to ${fmtLegendTime(null, xs[xs.length - 1])}`, 8 * devicePixelRatio, 22 * devicePixelRatio);
      ctx.drawImage(src, 0, pad);
      return new Promise(res => c.toBlob(res, 'image/png'));
    },
    // A resize to a container not laid out (0 wide, as during a
    // full-page capture) or to the same width is skipped.
    resize() {
      const w = container.clientWidth;
      if (w < 200 || plots.every(p => p.width === width())) return;
      for (const p of plots) p.setSize({ width: width(), height: p.height });
    },
    destroy() { for (const p of plots) p.destroy(); },
  };
}
