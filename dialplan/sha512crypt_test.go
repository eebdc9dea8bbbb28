package dialplan_test

import (
	"crypto/sha512"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// sha512CryptVerify checks password against a "$6$[rounds=N$]salt$hash"
// string, computed per Ulrich Drepper's SHA-crypt specification (what glibc
// crypt() and so Asterisk's password_format=crypt use). Test-only: the
// standard library has no crypt(3).
func sha512CryptVerify(password, hash string) (bool, error) {
	if !strings.HasPrefix(hash, "$6$") {
		return false, fmt.Errorf("not a SHA-512 crypt hash: %.3q", hash)
	}
	rest := hash[3:]
	rounds, custom := 5000, false
	if strings.HasPrefix(rest, "rounds=") {
		n, after, ok := strings.Cut(rest[len("rounds="):], "$")
		if !ok {
			return false, fmt.Errorf("bad rounds field")
		}
		r, err := strconv.Atoi(n)
		if err != nil {
			return false, fmt.Errorf("bad rounds: %w", err)
		}
		rounds, custom, rest = min(max(r, 1000), 999999999), true, after
	}
	salt, _, ok := strings.Cut(rest, "$")
	if !ok {
		return false, fmt.Errorf("no salt terminator")
	}
	return sha512Crypt(password, salt, rounds, custom) == hash, nil
}

func sha512Crypt(password, salt string, rounds int, custom bool) string {
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(password), []byte(salt)

	b := sha512.New()
	b.Write(p)
	b.Write(s)
	b.Write(p)
	sumB := b.Sum(nil)

	a := sha512.New()
	a.Write(p)
	a.Write(s)
	for n := len(p); n > 0; n -= 64 {
		a.Write(sumB[:min(n, 64)])
	}
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(p)
		}
	}
	sumA := a.Sum(nil)

	dp := sha512.New()
	for range len(p) {
		dp.Write(p)
	}
	sumDP := dp.Sum(nil)
	pBytes := make([]byte, 0, len(p))
	for n := len(p); n > 0; n -= 64 {
		pBytes = append(pBytes, sumDP[:min(n, 64)]...)
	}

	ds := sha512.New()
	for range 16 + int(sumA[0]) {
		ds.Write(s)
	}
	sumDS := ds.Sum(nil)
	sBytes := make([]byte, 0, len(s))
	for n := len(s); n > 0; n -= 64 {
		sBytes = append(sBytes, sumDS[:min(n, 64)]...)
	}

	c := sumA
	for i := range rounds {
		h := sha512.New()
		if i&1 != 0 {
			h.Write(pBytes)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sBytes)
		}
		if i%7 != 0 {
			h.Write(pBytes)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pBytes)
		}
		c = h.Sum(nil)
	}

	const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var out strings.Builder
	out.WriteString("$6$")
	if custom {
		fmt.Fprintf(&out, "rounds=%d$", rounds)
	}
	out.WriteString(salt)
	out.WriteByte('$')
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for range n {
			out.WriteByte(itoa64[w&0x3f])
			w >>= 6
		}
	}
	order := [][3]int{
		{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48},
		{28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13},
		{56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41},
	}
	for _, o := range order {
		enc(c[o[0]], c[o[1]], c[o[2]], 4)
	}
	enc(0, 0, c[63], 2)
	return out.String()
}

func TestSHA512CryptVectors(t *testing.T) {
	for _, tc := range []struct{ password, hash string }{
		// from the SHA-crypt specification
		{"Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		// from glibc crypt() on this project's build machine
		{"secret", "$6$abcdef0123456789$kuxMhmXG6BmyE2n8U8n5nefNUevyTnwq2hEUqwaxgls3ZjB.JQar7FR/nnMtNLnHGOb7IuADGc2fmLIUNLCOm0"},
	} {
		ok, err := sha512CryptVerify(tc.password, tc.hash)
		if err != nil || !ok {
			t.Errorf("verify(%q, %q) = %v, %v", tc.password, tc.hash, ok, err)
		}
		if ok, _ := sha512CryptVerify(tc.password+"x", tc.hash); ok {
			t.Errorf("a wrong password verified against %q", tc.hash)
		}
	}
}
