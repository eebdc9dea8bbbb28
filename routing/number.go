// Package routing is vnum's PBX-neutral core: the model of virtual numbers
// and their routes, the parsers for the outside input that describes them
// (numbers, block patterns, schedules), and the routing decision as a pure
// function over plain values.
//
// It knows nothing of Redis, ARI or ESL: routing/redisstore keeps the state,
// and the drivers execute what Decide returns.
package routing

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// ErrBadNumber is returned (wrapped) for a phone number that does not parse.
var ErrBadNumber = errors.New("not a valid phone number")

// Anonymous is the canonical spelling of a withheld caller.
const Anonymous = "anonymous"

// maxInput bounds every piece of outside text the parsers accept, so a
// hostile value cannot make a parser do unbounded work.
const maxInput = 256

// ParseE164 parses s as a phone number and returns it in E.164 form
// ("+33612345678"). National formats are read in defaultRegion (an ISO 3166
// alpha-2 code such as "FR"); a number in international form needs none.
// The number must be possible for its country (right length), not
// necessarily allocated: carriers hand out DIDs from ranges that metadata
// does not always know yet.
func ParseE164(s, defaultRegion string) (string, error) {
	raw := strings.TrimSpace(s)
	if raw == "" || len(raw) > 32 || !utf8.ValidString(raw) {
		return "", fmt.Errorf("%q: %w", clip(s), ErrBadNumber)
	}
	for _, r := range raw {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("+ ()-./", r) {
			return "", fmt.Errorf("%q: %w", clip(s), ErrBadNumber)
		}
	}
	if strings.HasPrefix(raw, "00") {
		raw = "+" + raw[2:]
	}
	num, err := phonenumbers.Parse(raw, strings.ToUpper(defaultRegion))
	if err != nil {
		return "", fmt.Errorf("%q: %w", clip(s), ErrBadNumber)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%q: %w (wrong length for its country)", clip(s), ErrBadNumber)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// CountryOf returns the ISO 3166 alpha-2 region of an E.164 number ("FR"),
// or "" when it belongs to no single region.
func CountryOf(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if region == "ZZ" {
		return ""
	}
	return region
}

// NormalizeCaller turns the caller number a PBX reports into the form the
// decision matches on: Anonymous for a withheld or empty caller, E.164 when
// it parses, else the bare digits (carriers send odd things; an odd caller
// can still be blocked exactly).
func NormalizeCaller(s, defaultRegion string) string {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable":
		return Anonymous
	}
	if e, err := ParseE164(t, defaultRegion); err == nil {
		return e
	}
	// Carriers often send international numbers without their '+'
	// ("447700900123"): read them as international when they are not a
	// national number of the default region, so blocks on +44… match.
	if d := strings.TrimLeft(t, "+"); len(d) >= 8 && !strings.HasPrefix(d, "0") {
		if e, err := ParseE164("+"+d, ""); err == nil {
			return e
		}
	}
	var b strings.Builder
	for _, r := range t {
		if (r >= '0' && r <= '9') || (r == '+' && b.Len() == 0) {
			b.WriteRune(r)
		}
		if b.Len() >= 20 {
			break
		}
	}
	if b.Len() == 0 || b.String() == "+" {
		return Anonymous
	}
	return b.String()
}

// clip shortens a bad value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
