package esltest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file adds what the FreeSWITCH driver's end-to-end tests (package
// esl) need of the emulator without changing its core: views on the
// command log (recordings started, applications run by sendmsg), the far
// end of an outbound leg (hang it up, wait for its end), and FreeSWITCH's
// originate_timeout, which a real FreeSWITCH enforces on a ringing
// originated leg (NO_ANSWER) and the core emulator leaves to
// Behavior.After.

// Recordings lists the files recordings were started into, in order
// (uuid_record ... start <path> by api or bgapi, and record_session).
func (s *Server) Recordings() []string {
	var out []string
	for _, c := range s.Commands() {
		line, rest, _ := strings.Cut(c, "\n")
		f := strings.Fields(line)
		if len(f) >= 5 && (f[0] == "api" || f[0] == "bgapi") && f[1] == "uuid_record" && f[3] == "start" {
			out = append(out, f[4])
		}
		if f0, _, _ := strings.Cut(line, " "); f0 == "sendmsg" && strings.Contains(rest, "execute-app-name: record_session\n") {
			if _, arg, ok := strings.Cut(rest, "execute-app-arg: "); ok {
				arg, _, _ = strings.Cut(arg, "\n")
				out = append(out, arg)
			}
		}
	}
	return out
}

// Executed lists the applications run on a channel by sendmsg, in order.
func (s *Server) Executed(uuid string) []string {
	var out []string
	for _, c := range s.Commands() {
		line, rest, _ := strings.Cut(c, "\n")
		if line != "sendmsg "+uuid {
			continue
		}
		if _, app, ok := strings.Cut(rest, "execute-app-name: "); ok {
			app, _, _ = strings.Cut(app, "\n")
			out = append(out, app)
		}
	}
	return out
}

// HangupLeg makes the far end of any channel (an outbound leg's callee)
// hang up now with cause ("" = NORMAL_CLEARING).
func (s *Server) HangupLeg(uuid, cause string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[uuid]
	if ch == nil || ch.hungup {
		return errors.New("esltest: no such channel")
	}
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	s.hangup(ch, cause)
	return nil
}

// LegAlive reports whether a channel exists and has not hung up.
func (s *Server) LegAlive(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[uuid]
	return ch != nil && !ch.hungup
}

// Support runs the timed parts of driver support on one goroutine: it
// enforces originate_timeout and closes LegDone channels. Close it before
// the Server.
type Support struct {
	s    *Server
	mu   sync.Mutex
	done map[string]chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewSupport starts driver support on s, checking every tick (default
// 10 ms).
func NewSupport(s *Server, tick time.Duration) *Support {
	if tick <= 0 {
		tick = 10 * time.Millisecond
	}
	sp := &Support{s: s, done: map[string]chan struct{}{}, quit: make(chan struct{})}
	sp.wg.Add(1)
	go sp.loop(tick)
	return sp
}

// Close stops the support goroutine.
func (sp *Support) Close() {
	sp.once.Do(func() { close(sp.quit) })
	sp.wg.Wait()
}

// LegDone returns a channel closed once the channel uuid no longer exists
// (checked every tick).
func (sp *Support) LegDone(uuid string) <-chan struct{} {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	ch, ok := sp.done[uuid]
	if !ok {
		ch = make(chan struct{})
		sp.done[uuid] = ch
	}
	return ch
}

func (sp *Support) loop(tick time.Duration) {
	defer sp.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-sp.quit:
			return
		case <-t.C:
		}
		sp.expireRinging(time.Now())
		sp.mu.Lock()
		for uuid, ch := range sp.done {
			if !sp.s.LegAlive(uuid) {
				close(ch)
				delete(sp.done, uuid)
			}
		}
		sp.mu.Unlock()
	}
}

// expireRinging ends originated legs still ringing after their
// originate_timeout with NO_ANSWER, as FreeSWITCH does (the originate job
// then reports -ERR NO_ANSWER).
func (sp *Support) expireRinging(now time.Time) {
	s := sp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.sortedChannels() {
		if ch.direction != "outbound" || ch.answered || ch.hungup || ch.pendingDone == nil {
			continue
		}
		v, ok := ch.getVar("originate_timeout")
		if !ok {
			continue
		}
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 || now.Before(ch.created.Add(time.Duration(secs)*time.Second)) {
			continue
		}
		s.markHangup(ch, "NO_ANSWER")
		s.emit(s.chanEvent("CHANNEL_HANGUP", ch))
		s.complete(ch)
	}
}

// DiscardCommandLog forgets the commands received so far (Commands,
// Recordings and Executed start afresh), so that memory measurements of a
// load are not dominated by the emulator's own log.
func (s *Server) DiscardCommandLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = nil
}
