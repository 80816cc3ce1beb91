// World map: world-atlas TopoJSON (Natural Earth 1:110m) decoded by hand and
// drawn as SVG with the Natural Earth I projection. Countries carry their
// ISO 3166 alpha-2 code in data-cc and are shaded by state.
import { NUM2A2, NAMES } from './iso3166.js';

const SVGNS = 'http://www.w3.org/2000/svg';
const W = 960, S = W / (2 * 2.7352), TOP = 90, BOTTOM = -90;

// Natural Earth I projection (Šavrič et al. 2011), radians in, unit plane out.
function project(lon, lat) {
  const l = lon * Math.PI / 180, p = lat * Math.PI / 180;
  const p2 = p * p, p4 = p2 * p2;
  const x = l * (0.8707 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)));
  const y = p * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)));
  return [x, y];
}
const Y0 = project(0, TOP)[1] * S, H = Math.round(Y0 - project(0, BOTTOM)[1] * S);
const px = (lon, lat) => { const [x, y] = project(lon, lat); return [W / 2 + x * S, Y0 - y * S]; };

// Decode the arcs of a TopoJSON topology (quantized, delta-encoded) to lon/lat.
function decodeArcs(topo) {
  const [sx, sy] = topo.transform.scale, [tx, ty] = topo.transform.translate;
  return topo.arcs.map(arc => {
    let x = 0, y = 0;
    return arc.map(([dx, dy]) => { x += dx; y += dy; return [x * sx + tx, y * sy + ty]; });
  });
}

function ring(arcs, idx) {
  const pts = [];
  for (const i of idx) {
    const a = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
    for (let k = pts.length ? 1 : 0; k < a.length; k++) pts.push(a[k]);
  }
  return pts;
}

// Rings that cross the antimeridian (Russia, Fiji) are made continuous and
// drawn twice, once on each side; the outline of the globe clips them.
function unwrap(pts) {
  let off = 0, prev = 0, min = Infinity, max = -Infinity;
  const out = pts.map(([lon, lat], i) => {
    if (i) {
      const d = lon + off - prev;
      if (d > 180) off -= 360; else if (d < -180) off += 360;
    }
    prev = lon + off;
    min = Math.min(min, prev); max = Math.max(max, prev);
    return [prev, lat];
  });
  const copies = [out];
  if (max > 180) copies.push(out.map(([x, y]) => [x - 360, y]));
  if (min < -180) copies.push(out.map(([x, y]) => [x + 360, y]));
  return copies;
}

function outline() {
  const pts = [];
  for (let lat = BOTTOM; lat <= TOP; lat += 1) pts.push(px(180, lat));
  for (let lat = TOP; lat >= BOTTOM; lat -= 1) pts.push(px(-180, lat));
  return 'M' + pts.map(p => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L') + 'Z';
}

function area(pts) {
  let s = 0;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) s += (pts[j][0] + pts[i][0]) * (pts[j][1] - pts[i][1]);
  return Math.abs(s / 2);
}

// SMALL is the size (px of the 960-wide map) under which a country gets a
// marker whatever its state, so that it can be seen and clicked.
const SMALL = 9;

const ALIAS = { 'Kosovo': 'XK', 'N. Cyprus': 'CY', 'Somaliland': 'SO' };

let shapes; // [{cc, name, d, cx, cy}]
async function load() {
  if (shapes) return shapes;
  const topo = await (await fetch('/vendor/countries-110m.json')).json();
  const arcs = decodeArcs(topo);
  shapes = [];
  for (const g of topo.objects.countries.geometries) {
    const cc = NUM2A2[g.id] || ALIAS[g.properties.name];
    if (!cc) continue;
    const polys = g.type === 'Polygon' ? [g.arcs] : g.type === 'MultiPolygon' ? g.arcs : [];
    let d = '', best = null, bestA = -1;
    for (const poly of polys) {
      poly.forEach((r, ri) => {
        unwrap(ring(arcs, r)).forEach((ll, copy) => {
          const pts = ll.map(([lon, lat]) => px(lon, lat));
          if (ri === 0 && copy === 0) { const a = area(pts); if (a > bestA) { bestA = a; best = pts; } }
          d += 'M' + pts.map(p => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L') + 'Z';
        });
      });
    }
    let cx = 0, cy = 0, size = 0;
    if (best) {
      const xs = best.map(p => p[0]), ys = best.map(p => p[1]);
      cx = (Math.min(...xs) + Math.max(...xs)) / 2; cy = (Math.min(...ys) + Math.max(...ys)) / 2;
      size = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
    }
    shapes.push({ cc, name: NAMES[cc] || g.properties.name, d, cx, cy, small: size < SMALL });
  }
  return shapes;
}

const svg = (tag, attrs = {}) => {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

// createMap draws the map into container and returns update(states, recent):
// states maps alpha-2 -> "warning"|"critical"; recent is a Map alpha-2 -> label
// of countries with recent events.
export async function createMap(container) {
  const list = await load();
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'worldmap', role: 'group', 'aria-label': 'World map of country states' });
  const edge = outline();
  const defs = svg('defs'), clip = svg('clipPath', { id: 'globe' });
  clip.append(svg('path', { d: edge }));
  defs.append(clip);
  root.append(defs, svg('path', { d: edge, class: 'ocean' }));
  const byCC = new Map();
  const gShapes = svg('g', { 'clip-path': 'url(#globe)' }), gMarks = svg('g', { class: 'marks' });
  for (const s of list) {
    const a = svg('a', { href: '/country/' + s.cc, 'aria-label': s.name });
    const p = svg('path', { d: s.d, 'data-cc': s.cc, class: 'c state-normal' });
    const t = svg('title'); t.textContent = s.name;
    p.append(t); a.append(p); gShapes.append(a);
    const prev = byCC.get(s.cc);
    if (prev) prev.paths.push(p); else byCC.set(s.cc, { s, paths: [p], title: t });
  }
  root.append(gShapes, gMarks);
  container.replaceChildren(root);

  // seen, when given, holds the countries with data: the others are
  // "nodata", not "normal" (nothing was judged there).
  return function update(states = {}, recent = new Map(), seen = null) {
    gMarks.replaceChildren();
    for (const [cc, { s, paths }] of byCC) {
      const st = states[cc] || (!seen || seen.has(cc) ? 'normal' : 'nodata');
      const rec = recent.get(cc);
      for (const p of paths) {
        p.setAttribute('class', `c state-${st}${rec ? ' recent' : ''}`);
        p.setAttribute('data-state', st);
        p.querySelector('title').textContent = `${s.name} (${cc}): ${st === 'nodata' ? 'no data' : st}${rec ? ' — ' + rec : ''}`;
      }
      if (st !== 'normal' || rec || s.small) {
        // A marker, so that small countries are seen, and a label with
        // the code for those in trouble or with an event.
        const flagged = (st !== 'normal' && st !== 'nodata') || rec;
        if (!flagged && !s.small) continue;
        const a = svg('a', { href: '/country/' + cc, 'aria-label': `${s.name}: ${st}${rec ? ', ' + rec : ''}` });
        const c = svg('circle', { cx: s.cx.toFixed(1), cy: s.cy.toFixed(1), r: flagged ? (st === 'normal' ? 6 : 8) : 3.2,
          class: `mark state-${st}${flagged ? '' : ' small'}${rec ? ' recent' : ''}`, 'data-cc': cc });
        const t = svg('title'); t.textContent = `${s.name} (${cc}): ${st}${rec ? ' — ' + rec : ''}`;
        c.append(t); a.append(c);
        if (flagged) {
          const lbl = svg('text', { x: (s.cx + 11).toFixed(1), y: (s.cy + 4).toFixed(1), class: `mark-label state-${st}` });
          lbl.textContent = cc;
          a.append(lbl);
        }
        gMarks.append(a);
      }
    }
  };
}
