package server

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the HTTP face (see NewHTTPServer and Listen).
const (
	DefaultMaxConnections = 1000
	DefaultMaxSubscribers = 200
	maxHeaderBytes        = 64 << 10
)

// The timeouts (variables for the tests).
var (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
	// streamWriteTimeout bounds each write of the event stream: a client
	// that reads nothing for this long is dropped.
	streamWriteTimeout = 30 * time.Second
)

// NewHTTPServer returns an http.Server for h with timeouts on reading the
// headers and the request, on writing the response and on idle
// keep-alive connections, and bounded headers. The event stream lifts the
// request's read and write deadlines and sets a write deadline before each
// of its writes instead (see Server).
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// Listen listens on the TCP address addr and accepts at most
// maxConnections connections at a time (0: DefaultMaxConnections); a
// connection over the cap is answered 503 and closed. It logs a warning
// on log when the address is not a loopback one: the API has no
// authentication.
func Listen(addr string, maxConnections int, log *slog.Logger) (*LimitListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if Exposed(ln.Addr()) && log != nil {
		log.Warn("listening on a non-loopback address: the API, the dashboard and /metrics are open to the network without authentication; "+
			"put a reverse proxy with TLS and access control in front, or listen on 127.0.0.1", "address", ln.Addr().String())
	}
	return NewLimitListener(ln, maxConnections), nil
}

// Exposed reports whether a listening address is reachable from other
// hosts: not a loopback one (an unspecified address, 0.0.0.0 or ::, is
// every interface).
func Exposed(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return !ok || !t.IP.IsLoopback()
}

// LimitListener is a listener that holds at most a number of connections
// open at a time and answers the ones over it with a 503.
type LimitListener struct {
	net.Listener
	sem       chan struct{}
	rejecting chan struct{}
	rejected  atomic.Int64
}

// NewLimitListener wraps ln to hold at most max connections (0:
// DefaultMaxConnections).
func NewLimitListener(ln net.Listener, max int) *LimitListener {
	if max <= 0 {
		max = DefaultMaxConnections
	}
	return &LimitListener{Listener: ln, sem: make(chan struct{}, max), rejecting: make(chan struct{}, 64)}
}

// Rejected returns the number of connections refused for being over the cap.
func (l *LimitListener) Rejected() int64 { return l.rejected.Load() }

// Accept returns the next connection under the cap.
func (l *LimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
		default:
			l.reject(c)
		}
	}
}

const overCapResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"

// reject answers c with a 503 (without reading its request) and closes
// it; when too many rejections are already being written, it only closes.
func (l *LimitListener) reject(c net.Conn) {
	l.rejected.Add(1)
	select {
	case l.rejecting <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.rejecting }()
		defer c.Close()
		body := `{"error":"too many connections; try again later"}` + "\n"
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(c, overCapResponse, len(body), body)
	}()
}

// limitConn gives its place back when closed.
type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// limitStream wraps the event stream's handler: at most MaxSubscribers at
// a time (a 503 over it); the request's read deadline is lifted (a GET has
// no body, the stream lasts) and each write gets its own write deadline,
// so that the server's WriteTimeout does not cut the stream while a client
// that stops reading is dropped. A failed write ends the handler's context.
func (s *Server) limitStream(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.subs <- struct{}{}:
			defer func() { <-s.subs }()
		default:
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many stream subscribers (at most %d); try again later", cap(s.subs)))
			return
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		h(&deadlineWriter{ResponseWriter: w, rc: rc, cancel: cancel}, r.WithContext(ctx))
	}
}

// deadlineWriter sets a write deadline before each write and flush.
type deadlineWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	cancel context.CancelFunc
}

func (d *deadlineWriter) extend() { d.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.extend()
	n, err := d.ResponseWriter.Write(b)
	if err != nil {
		d.cancel()
	}
	return n, err
}

func (d *deadlineWriter) WriteHeader(code int) { d.extend(); d.ResponseWriter.WriteHeader(code) }

func (d *deadlineWriter) Flush() {
	d.extend()
	if err := d.rc.Flush(); err != nil {
		d.cancel()
	}
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// fallback answers what no route matched: under /api/ a JSON 404 (405
// for a method other than GET), elsewhere files (GET and HEAD only).
func (s *Server) fallback(files http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/") && get:
			writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+quote(r.URL.Path))
		case !get:
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed: "+quote(r.Method)+" (blackout's HTTP face is read-only: GET)")
		default:
			files.ServeHTTP(w, r)
		}
	})
}

// static serves the dashboard's files: a file of web, else (a directory,
// or nothing) the styled 404 page. No directory is ever listed.
func static(web fs.FS) http.Handler {
	files := http.FileServerFS(web)
	page, _ := fs.ReadFile(web, "404.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if st, err := fs.Stat(web, name); err == nil && !st.IsDir() && name != "404.html" && !strings.HasSuffix(r.URL.Path, "/") {
			files.ServeHTTP(w, r)
			return
		}
		notFound(w, page)
	})
}

// notFound writes the styled 404 page.
func notFound(w http.ResponseWriter, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	w.Write(page)
}
