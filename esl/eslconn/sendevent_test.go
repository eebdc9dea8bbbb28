package eslconn

import (
	"context"
	"errors"
	"testing"
)

// Names and values that could end a line or add a header are refused
// before anything is written (the nil connection is never touched).
func TestSendEventRefusesUnsafeHeaders(t *testing.T) {
	var c *Conn
	for _, tc := range []struct {
		name string
		hdrs []Header
	}{
		{"CUSTOM\napi hupall", nil},
		{"", nil},
		{"CUSTOM", []Header{{Name: "to", Value: "a\n\napi hupall"}}},
		{"CUSTOM", []Header{{Name: "to", Value: "a\rb"}}},
		{"CUSTOM", []Header{{Name: "x y", Value: "1"}}},
		{"CUSTOM", []Header{{Name: "Content-Length", Value: "1"}}},
		{"CUSTOM", []Header{{Name: "content-length", Value: "1"}}},
	} {
		if _, err := c.SendEvent(context.Background(), tc.name, tc.hdrs, "body"); !errors.Is(err, ErrUnsafeArg) {
			t.Errorf("%q %v: %v", tc.name, tc.hdrs, err)
		}
	}
}
