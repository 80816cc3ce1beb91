package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// rssMB returns the resident set size of process pid in MB.
func rssMB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

type familyState struct {
	Family     string `json:"family"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	Peers      int    `json:"peers"`
	ReadyPeers int    `json:"ready_peers"`
}

func familiesOf(t *testing.T, base string) map[string]familyState {
	t.Helper()
	var st struct {
		Judging struct {
			Families []familyState `json:"families"`
		} `json:"judging"`
	}
	if err := json.Unmarshal(getBody(t, base+"/api/v1/status"), &st); err != nil {
		t.Fatal(err)
	}
	m := map[string]familyState{}
	for _, f := range st.Judging.Families {
		m[f.Family] = f
	}
	return m
}

// TestServeBGPLive runs `blackout serve` as a BGP collector with default
// limits: 1,000 connections that each send only an OPEN, then close,
// leave the process alive with its RSS within 150 MB of where it started
// (issue 12: it took 1.4 GB for 3,000 with GoBGP); then one real session
// shows in /api/v1/status as learning (0 of 1 peers ready) and, after its
// End-of-RIB, judging; /metrics has the live gauges; the log says nothing
// of a replay.
func TestServeBGPLive(t *testing.T) {
	port := peertest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := startServeProc(t, "--data", t.TempDir(), "--bgp-listen", addr, "--bgp-accept", "127.0.0.0/8", "--local-as", "65000")
	pid := p.cmd.Process.Pid
	for !strings.Contains(p.log(), "listening as AS65000") {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	before := rssMB(t, pid)
	var conns []net.Conn
	peak := before
	for i := range 1000 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(10+i/250), byte(1+i%250))}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		_, _ = c.Write(peertest.Open(4, uint32(64512+i), [4]byte{10, 0, byte(i >> 8), byte(i)}))
		conns = append(conns, c)
		if i%100 == 99 {
			peak = max(peak, rssMB(t, pid))
		}
	}
	peak = max(peak, rssMB(t, pid))
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(2 * time.Second)
	after := rssMB(t, pid)
	t.Logf("RSS: %.1f MB before, %.1f MB at the peak of 1,000 connections sending only an OPEN, %.1f MB after they closed", before, peak, after)
	if after-before > 150 {
		t.Errorf("RSS %.1f MB after the connections closed, %.1f MB before: more than 150 MB kept", after, before)
	}
	getBody(t, p.base+"/api/v1/health") // alive

	// One real session: learning, then judging at its End-of-RIB.
	c := peertest.DialBGP(t, "127.0.5.1", addr)
	c.Handshake(t, 65051, [4]byte{127, 0, 5, 1})
	attrs := &bgp.Attrs{Origin: bgp.OriginIGP, NextHop: netip.MustParseAddr("198.51.100.1"),
		Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{65051, 4837, 131279}}}}}
	attrs.Set(bgp.AttrOrigin)
	attrs.Set(bgp.AttrASPath)
	attrs.Set(bgp.AttrNextHop)
	var nlri []wire.NLRI
	for i := range 4 {
		nlri = append(nlri, wire.NLRI{Prefix: netip.MustParsePrefix(fmt.Sprintf("175.45.%d.0/24", 176+i))})
	}
	upd, err := wire.AppendUpdate(nil, nil, attrs, nlri, wire.UpdateOptions{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(t, upd)
	wait := func(what string, cond func(map[string]familyState) bool) map[string]familyState {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			f := familiesOf(t, p.base)
			if cond(f) {
				return f
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: families %+v\n%s", what, f, p.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	f := wait("learning", func(f map[string]familyState) bool { return f["ipv4"].Peers == 1 })
	if v4 := f["ipv4"]; v4.State != "learning" || v4.ReadyPeers != 0 || !strings.Contains(v4.Reason, "0 of 1 peers ready") {
		t.Errorf("before End-of-RIB: %+v", v4)
	}
	eor, _ := wire.AppendUpdate(nil, nil, nil, nil, wire.UpdateOptions{})
	c.Write(t, eor)
	f = wait("judging", func(f map[string]familyState) bool { return f["ipv4"].State == "judging" })
	if v4 := f["ipv4"]; v4.ReadyPeers != 1 || v4.Peers != 1 {
		t.Errorf("after End-of-RIB: %+v", v4)
	}
	metrics := string(getBody(t, p.base+"/metrics"))
	for _, want := range []string{`blackout_peers{family="ipv4"} 1`, `blackout_ready_peers{family="ipv4"} 1`,
		`blackout_full_feed_peers{family="ipv4"} 1`, "blackout_bgp_sessions 1", "blackout_lag_seconds "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.stop(t)
	logs := p.log()
	for _, bad := range []string{"replay started", "replay finished", "failed to stop BGP server"} {
		if strings.Contains(logs, bad) {
			t.Errorf("log has %q:\n%s", bad, logs)
		}
	}
	for _, want := range []string{"live sources started", "session up: 127.0.5.1 AS65051", "peer ready: 127.0.5.1 AS65051 ipv4", "rejected peer"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
