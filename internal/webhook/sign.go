package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names set on every delivery.
const (
	SignatureHeader = "Vnum-Signature"
	EventHeader     = "Vnum-Event"
	DeliveryHeader  = "Vnum-Delivery"
)

var (
	// ErrBadSignatureHeader: the signature header is missing or malformed.
	ErrBadSignatureHeader = errors.New("webhook: malformed signature header")
	// ErrTimestamp: the signature's timestamp is outside the tolerance.
	ErrTimestamp = errors.New("webhook: signature timestamp outside tolerance")
	// ErrSignature: no v1 signature matches the body and secret.
	ErrSignature = errors.New("webhook: signature mismatch")
)

// maxSignatureHeader bounds what Verify parses.
const maxSignatureHeader = 4096

// Sign returns the Vnum-Signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// signature is a parsed Vnum-Signature header.
type signature struct {
	ts  string // as sent, for the MAC
	at  time.Time
	v1s [][]byte
}

// parseSignature reads "t=<unix>,v1=<hex>[,v1=<hex>...]"; unknown keys
// are ignored (future schemes), several v1 are allowed (secret rotation).
func parseSignature(h string) (signature, error) {
	var s signature
	if len(h) > maxSignatureHeader {
		return s, fmt.Errorf("%w: longer than %d bytes", ErrBadSignatureHeader, maxSignatureHeader)
	}
	if strings.TrimSpace(h) == "" {
		return s, fmt.Errorf("%w: empty", ErrBadSignatureHeader)
	}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return s, fmt.Errorf("%w: element without '='", ErrBadSignatureHeader)
		}
		switch k {
		case "t":
			if s.ts != "" {
				return s, fmt.Errorf("%w: more than one timestamp", ErrBadSignatureHeader)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v != strconv.FormatInt(n, 10) {
				return s, fmt.Errorf("%w: bad timestamp", ErrBadSignatureHeader)
			}
			s.ts, s.at = v, time.Unix(n, 0)
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return s, fmt.Errorf("%w: bad v1 signature", ErrBadSignatureHeader)
			}
			s.v1s = append(s.v1s, b)
		}
	}
	if s.ts == "" {
		return s, fmt.Errorf("%w: no timestamp", ErrBadSignatureHeader)
	}
	if len(s.v1s) == 0 {
		return s, fmt.Errorf("%w: no v1 signature", ErrBadSignatureHeader)
	}
	return s, nil
}

// Verify checks a delivery's Vnum-Signature header against its raw body:
// one v1 signature must be HMAC-SHA256(secret, "<t>.<body>") and t must be
// within tolerance of now (tolerance <= 0 skips the time check; receivers
// should use a few minutes to refuse replays). Errors wrap
// ErrBadSignatureHeader, ErrTimestamp or ErrSignature.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if secret == "" {
		return fmt.Errorf("%w: empty secret", ErrSignature)
	}
	s, err := parseSignature(header)
	if err != nil {
		return err
	}
	if tolerance > 0 {
		if d := now.Sub(s.at); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed at %s, now %s", ErrTimestamp, s.at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	want := mac(secret, s.ts, body)
	for _, v := range s.v1s {
		if hmac.Equal(v, want) {
			return nil
		}
	}
	return ErrSignature
}
