package routing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// CallerStorage says how a caller's number is kept in records (CDRs, live
// call registry, voicemail metadata).
type CallerStorage string

const (
	StoreFull  CallerStorage = "full"  // the number as received
	StoreLast4 CallerStorage = "last4" // "…0100"
	StoreHMAC  CallerStorage = "hmac"  // HMAC-SHA256 with a deployment key: countable, not readable
)

// hmacRecordHex is how many hex digits of the HMAC a record keeps.
const hmacRecordHex = 32

// Privacy is the deployment's record-keeping policy for caller numbers.
type Privacy struct {
	Caller CallerStorage
	Key    []byte // for StoreHMAC
}

// Validate checks the policy.
func (p Privacy) Validate() error {
	switch p.Caller {
	case "", StoreFull, StoreLast4:
		return nil
	case StoreHMAC:
		if len(p.Key) < 16 {
			return fmt.Errorf("caller storage hmac: the key must be at least 16 bytes")
		}
		return nil
	}
	return fmt.Errorf("caller storage %q: want full, last4 or hmac", clip(string(p.Caller)))
}

// Record returns the caller number as the policy allows it to be stored.
func (p Privacy) Record(caller string) string {
	if caller == Anonymous || caller == "" {
		return Anonymous
	}
	switch p.Caller {
	case StoreLast4:
		if len(caller) <= 4 {
			return "…" + caller
		}
		return "…" + caller[len(caller)-4:]
	case StoreHMAC:
		m := hmac.New(sha256.New, p.Key)
		m.Write([]byte(caller))
		return "hmac:" + hex.EncodeToString(m.Sum(nil))[:hmacRecordHex]
	}
	return caller
}
