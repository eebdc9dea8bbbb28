package routing

import (
	"errors"
	"fmt"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// LabelPool is the Number label that records the pool a number was
// allocated from; releasing the number sends it back there.
const LabelPool = "pool"

// DefaultCoolOff is how long a released or expired number stays in
// quarantine before its pool may hand it out again.
const DefaultCoolOff = 30 * 24 * time.Hour

// ErrBadPoolName is returned (wrapped) for a pool name that does not parse.
var ErrBadPoolName = errors.New("want 1 to 64 letters, digits, '-', '_' or '.'")

// ParsePoolName checks a pool name. Names become part of Redis keys (as a
// Cluster hash tag), so only a safe alphabet is accepted.
func ParsePoolName(s string) (string, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", fmt.Errorf("pool %q: %w", clip(s), ErrBadPoolName)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return "", fmt.Errorf("pool %q: %w", clip(s), ErrBadPoolName)
		}
	}
	return s, nil
}

// AreaCode returns the geographical area code of an E.164 number ("1" for
// Paris in +33 1 87 65 43 21, "415" for +1 415 555 0100), or "" for a
// number without one (mobile, non-geographic) or one that does not parse.
func AreaCode(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	n := phonenumbers.GetLengthOfGeographicalAreaCode(num)
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if n <= 0 || n > len(nsn) {
		return ""
	}
	return nsn[:n]
}
