// The learning banner: while some address family is not judged yet
// because the live peers are still sending their tables (or warming up),
// say so above everything, with how many peers are ready. Kept apart from
// app.js (which calls showLearning from setJudging) so that the dashboard
// can change around it.
export function showLearning(j) {
  const box = document.getElementById('learning');
  if (!box) return;
  const fams = (j && j.families) || [];
  const learning = fams.filter(f => f.state === 'learning' && (f.peers > 0 || /warming up|learning/.test(f.reason || '')));
  if (!learning.length) { box.hidden = true; return; }
  const name = { ipv4: 'IPv4', ipv6: 'IPv6' };
  box.textContent = 'Learning the routing table: ' + learning.map(f =>
    (name[f.family] || f.family) + (f.peers > 0 ? ` ${f.ready_peers} of ${f.peers} peers ready` : ' warming up')).join(', ') +
    '. Nothing is judged for ' + (learning.length > 1 ? 'them' : 'it') + ' yet.';
  box.hidden = false;
}
