package aritest

import (
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// wsConn is one connected application WebSocket: a queue of encoded events
// drained by the connection's own writer (the HTTP handler goroutine).
type wsConn struct {
	ws     *websocket.Conn
	apps   []string
	mu     sync.Mutex
	queue  [][]byte
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newWSConn(ws *websocket.Conn, apps []string) *wsConn {
	ws.PayloadType = websocket.TextFrame
	return &wsConn{ws: ws, apps: apps, signal: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *wsConn) enqueue(msg []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, msg)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *wsConn) take() [][]byte {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	return q
}

// closeGrace bounds the writes to a connection being closed (a peer that
// stopped reading must not hold Close up).
const closeGrace = 100 * time.Millisecond

// close asks run to stop.
func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.SetWriteDeadline(time.Now().Add(closeGrace))
	})
}

// run writes queued events until either side closes. It owns one reader
// goroutine (which answers pings and notices the peer's close) and waits for
// it.
func (c *wsConn) run() {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer c.close()
		var discard []byte
		for {
			if err := websocket.Message.Receive(c.ws, &discard); err != nil {
				return
			}
		}
	}()
loop:
	for {
		select {
		case <-c.done:
			break loop
		case <-c.signal:
		}
		for _, m := range c.take() {
			select {
			case <-c.done:
				break loop
			default:
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.ws.Write(m); err != nil {
				break loop
			}
		}
	}
	c.close()
	_ = c.ws.Close() // sends a close frame, unblocks the reader
	<-readerDone
}
