// Package ristest is a RIS Live server for tests: a websocket server on
// 127.0.0.1 that plays scripted messages to each connection in turn, so a
// client can be tested without the network, including dropped connections.
package ristest

import (
	"bufio"
	"bytes"
	"context"
	"github.com/blackout-bgp/blackout/internal/corpus"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// Server is a fake RIS Live endpoint. Connection i (from 0) receives
// Scripts[i]; every connection but the last is dropped (closed without a
// close handshake) once its script is sent, like a server restart; the
// last one stays open until the client leaves. Connections beyond the
// scripts are refused.
type Server struct {
	URL string // ws://127.0.0.1:PORT/v1/ws/?client=test

	hs      *httptest.Server
	scripts [][][]byte
	gen     func() []byte // NewStream's messages, after the scripts
	mu      sync.Mutex
	conns   int
	subs    [][]byte
	done    chan struct{}
}

// New starts a server playing scripts, one per connection.
func New(scripts ...[][]byte) *Server {
	s := &Server{scripts: scripts, done: make(chan struct{})}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/v1/ws/?client=test"
	return s
}

// NewStream starts a server whose one connection receives the messages
// next returns, until it returns nil (then the connection stays open
// until the client leaves): a stream too long to hold in memory.
func NewStream(next func() []byte) *Server {
	s := &Server{scripts: [][][]byte{nil}, gen: next, done: make(chan struct{})}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/v1/ws/?client=test"
	return s
}

// Close stops the server and ends open connections.
func (s *Server) Close() {
	close(s.done)
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// Connections returns how many connections were accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Subscriptions returns the ris_subscribe messages received, in order, over
// all connections.
func (s *Server) Subscriptions() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.subs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.conns
	if n >= len(s.scripts) {
		s.mu.Unlock()
		http.Error(w, "no more scripts", http.StatusServiceUnavailable)
		return
	}
	s.conns++
	s.mu.Unlock()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The client subscribes first; wait for one ris_subscribe.
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if bytes.Contains(msg, []byte(`"ris_subscribe"`)) {
			s.mu.Lock()
			s.subs = append(s.subs, msg)
			s.mu.Unlock()
			break
		}
	}
	// Later messages (more subscriptions, pings) are read and kept.
	readErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			if bytes.Contains(msg, []byte(`"ris_subscribe"`)) {
				s.mu.Lock()
				s.subs = append(s.subs, msg)
				s.mu.Unlock()
			}
			if bytes.Contains(msg, []byte(`"ping"`)) {
				_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong","data":null}`))
			}
		}
	}()
	for _, m := range s.scripts[n] {
		if err := c.Write(ctx, websocket.MessageText, m); err != nil {
			return
		}
	}
	for s.gen != nil {
		m := s.gen()
		if m == nil {
			break
		}
		if err := c.Write(ctx, websocket.MessageText, m); err != nil {
			return
		}
	}
	if n < len(s.scripts)-1 {
		return // dropped: CloseNow without a close frame
	}
	select {
	case <-readErr:
	case <-ctx.Done():
	}
}

// Lines reads a file of one message per line (JSON lines), skipping empty
// lines.
func Lines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out, sc.Err()
}

// Corpus returns the path of a RIS Live capture of the shared corpus
// ($BLACKOUT_CORPUS, default ../shared/corpus from the repository root),
// found from the test's directory, or "" when it is absent.
func Corpus(name string) string { return corpus.Path("rislive/" + name) }

// CorpusLines returns the messages of a RIS Live capture of the shared
// corpus, one per line; it skips tb when the capture is absent.
func CorpusLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	lines, err := Lines(corpus.Require(tb, "rislive/"+name))
	if err != nil {
		tb.Fatal(err)
	}
	return lines
}
