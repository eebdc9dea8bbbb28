package esltest

import (
	"container/heap"
	"time"
)

// scheduler runs timed call actions (ring timeouts, callee hang-ups, DTMF)
// on one goroutine owned by the Server, under the Server's mutex. It keeps
// no goroutine per call, so thousands of calls cost one heap entry each.
type scheduler struct {
	h    taskHeap
	seq  uint64
	wake chan struct{}
}

type task struct {
	at  time.Time
	seq uint64
	fn  func()
}

type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// after schedules fn (run with s.mu held). Caller holds s.mu.
func (s *Server) after(d time.Duration, fn func()) {
	s.sched.seq++
	heap.Push(&s.sched.h, &task{at: time.Now().Add(d), seq: s.sched.seq, fn: fn})
	select {
	case s.sched.wake <- struct{}{}:
	default:
	}
}

func (s *Server) runScheduler() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var wait time.Duration = time.Hour
		now := time.Now()
		for s.sched.h.Len() > 0 {
			t := s.sched.h[0]
			if t.at.After(now) {
				wait = t.at.Sub(now)
				break
			}
			heap.Pop(&s.sched.h)
			t.fn()
		}
		s.mu.Unlock()
		timer.Reset(wait) // Go >= 1.23 timers: Reset needs no draining
		select {
		case <-s.quit:
			return
		case <-s.sched.wake:
		case <-timer.C:
		}
	}
}
