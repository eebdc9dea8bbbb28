// Package webhooktest is an HTTP endpoint for tests of vnum's webhooks: it
// records every delivery, verifies its signature, and can answer with an
// error status a number of times or hang until released.
package webhooktest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/webhook"
)

// Delivery is one request the receiver got.
type Delivery struct {
	Event    webhook.Event
	Header   http.Header
	Body     []byte
	Attempt  string // the Vnum-Attempt header
	Verified error  // webhook.Verify's verdict (nil: valid signature)
	Status   int    // what the receiver answered (0: the client gave up)
	Received time.Time
}

// Receiver is an httptest server receiving webhook deliveries.
type Receiver struct {
	// URL is the endpoint's URL.
	URL string

	secret string
	srv    *httptest.Server

	mu       sync.Mutex
	got      []Delivery
	failN    int
	failCode int
	failHdr  http.Header
	hang     chan struct{} // non-nil: requests wait for it to close
	changed  chan struct{} // closed and replaced on every request
	arrived  chan struct{} // a request started (buffered, for Arrived)
}

// New starts a receiver verifying signatures with secret; it stops at the
// end of the test (releasing hung requests first).
func New(t testing.TB, secret string) *Receiver {
	t.Helper()
	r := &Receiver{secret: secret, changed: make(chan struct{}), arrived: make(chan struct{}, 1024)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/hook"
	t.Cleanup(r.Close)
	return r
}

// Close releases hung requests and stops the server.
func (r *Receiver) Close() {
	r.Release()
	r.srv.Close()
}

// FailNext makes the next n requests answer code.
func (r *Receiver) FailNext(n, code int) {
	r.mu.Lock()
	r.failN, r.failCode = n, code
	r.mu.Unlock()
}

// FailHeader adds a header to the error answers (e.g. Retry-After).
func (r *Receiver) FailHeader(key, value string) {
	r.mu.Lock()
	if r.failHdr == nil {
		r.failHdr = http.Header{}
	}
	r.failHdr.Set(key, value)
	r.mu.Unlock()
}

// Hang makes requests wait, unanswered, until Release (or the client gives
// up).
func (r *Receiver) Hang() {
	r.mu.Lock()
	if r.hang == nil {
		r.hang = make(chan struct{})
	}
	r.mu.Unlock()
}

// Release answers the hung requests and stops hanging.
func (r *Receiver) Release() {
	r.mu.Lock()
	if r.hang != nil {
		close(r.hang)
		r.hang = nil
	}
	r.mu.Unlock()
}

// Arrived is signalled once per request when it starts, before it is
// answered (or hangs).
func (r *Receiver) Arrived() <-chan struct{} { return r.arrived }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	r.mu.Lock()
	hang := r.hang
	r.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
			r.record(req, body, 0, at)
			return
		}
	}
	r.mu.Lock()
	code := http.StatusNoContent
	if r.failN > 0 {
		r.failN--
		code = r.failCode
		for k, v := range r.failHdr {
			w.Header()[k] = v
		}
	}
	r.mu.Unlock()
	r.record(req, body, code, at)
	w.WriteHeader(code)
}

func (r *Receiver) record(req *http.Request, body []byte, code int, at time.Time) {
	d := Delivery{Header: req.Header.Clone(), Body: body, Attempt: req.Header.Get("Vnum-Attempt"), Status: code, Received: at}
	d.Verified = webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, 5*time.Minute, time.Now())
	_ = json.Unmarshal(body, &d.Event)
	r.mu.Lock()
	r.got = append(r.got, d)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Requests returns every request so far (answered or not).
func (r *Receiver) Requests() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Delivered returns the requests answered with a 2xx.
func (r *Receiver) Delivered() []Delivery {
	var out []Delivery
	for _, d := range r.Requests() {
		if d.Status >= 200 && d.Status < 300 {
			out = append(out, d)
		}
	}
	return out
}

// WaitDelivered waits until n requests were answered with a 2xx and
// returns them, or fails the test after timeout.
func (r *Receiver) WaitDelivered(t testing.TB, n int, timeout time.Duration) []Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if d := r.Delivered(); len(d) >= n {
			return d
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("webhooktest: %d deliveries after %s, want %d (requests: %d)", len(r.Delivered()), timeout, n, len(r.Requests()))
			return nil
		}
	}
}

// WaitRequests waits until n requests were recorded (answered or given up
// by the client) and returns them, or fails the test after timeout.
func (r *Receiver) WaitRequests(t testing.TB, n int, timeout time.Duration) []Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		r.mu.Lock()
		ch := r.changed
		got := len(r.got)
		r.mu.Unlock()
		if got >= n {
			return r.Requests()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("webhooktest: %d requests after %s, want %d", got, timeout, n)
			return nil
		}
	}
}
