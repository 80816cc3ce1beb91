// Signal charts with uPlot: visible address space against its baseline
// band, events shaded; prefixes and origins; churn.
/* global uPlot */

const SEV_FILL = { critical: 'rgba(215,48,31,0.16)', warning: 'rgba(242,169,59,0.20)' };
const PARTIAL = 0.8; // the detector's partial-outage threshold: losing 20% of the baseline

const utc = ts => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

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

function base(title, width, height, events, nowSec, yLabel) {
  return {
    title, width, height, tzDate: utc,
    cursor: { sync: { key: 'signals' } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [{}, { label: yLabel, size: 60 }],
    plugins: [eventsPlugin(events, nowSec)],
  };
}

// drawSignals draws three charts in container from a signals response and
// the entity's events. It returns {resize(), destroy()}.
export function drawSignals(container, sig, events, nowSec) {
  const pts = sig.points || [];
  const xs = pts.map(p => Date.parse(p.time) / 1e3);
  const num = v => (v === undefined || v === null || Number.isNaN(v) ? null : v);
  const unit = sig.unit || '/24';
  const width = () => Math.max(280, container.clientWidth - 4);
  const plots = [];
  container.replaceChildren();
  if (!pts.length) {
    const p = document.createElement('p'); p.className = 'empty'; p.textContent = 'No signal data for this range yet.';
    container.append(p);
    return { resize() {}, destroy() {} };
  }
  const mk = (opts, data, cls) => {
    const div = document.createElement('div'); div.className = 'chart ' + cls; container.append(div);
    plots.push(new uPlot(opts, data, div));
  };
  const small = window.innerWidth < 640;

  const o1 = base(`Visible address space (${unit} blocks, ${sig.family})`, width(), small ? 220 : 260, events, nowSec, unit);
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

  const o2 = base('Prefixes and origin ASes', width(), small ? 160 : 180, events, nowSec, 'count');
  o2.series = [{}, { label: 'prefixes', stroke: '#2b8a3e', width: 1.5 }, { label: 'origin ASes', stroke: '#a05a00', width: 1.5 }];
  o2.scales.y = { range: (u, min, max) => [0, Math.max(1, max * 1.1)] };
  mk(o2, [xs, pts.map(p => num(p.prefixes)), pts.map(p => num(p.origins))], 'counts');

  const o3 = base('Churn (route updates per bin)', width(), small ? 140 : 150, events, nowSec, 'updates');
  o3.series = [{}, { label: 'churn', stroke: '#756bb1', fill: 'rgba(117,107,177,0.35)', paths: uPlot.paths.bars({ size: [0.9, 8] }), points: { show: false } }];
  o3.scales.y = { range: (u, min, max) => [0, Math.max(1, max * 1.1)] };
  mk(o3, [xs, pts.map(p => num(p.churn))], 'churn');

  return {
    resize() { for (const p of plots) p.setSize({ width: width(), height: p.height }); },
    destroy() { for (const p of plots) p.destroy(); },
  };
}
