package esltest

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzTokenizer: the FreeSWITCH tokenizer model and the command packet
// reader take arbitrary client bytes without panicking.
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{
		"{origination_caller_id_name='O\\'Brien \"Bob\" back\\\\slash',vnum_sentinel=t7}sofia/lab/user@127.0.0.1:5082 &park",
		"{^^|a=b,c|d=e}x", "[a='b,c']x", "{a=b", "}{", "{a={b}}x", "'", "\\", "{=}", "<a=b>x",
		"sendmsg x\ncall-command: execute\ncontent-length: 3\n\nabc", "api a\r\nb\n\n", "x\n\n\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []byte{' ', ',', '=', ';'} {
			for _, max := range []int{0, 2, 3} {
				if got := SeparateString(s, d, max); max > 0 && len(got) > max {
					t.Fatalf("SeparateString(%q, %q, %d) gave %d fields", s, d, max, len(got))
				}
			}
		}
		if i := FindEndParen(s, '{', '}'); i >= len(s) {
			t.Fatalf("FindEndParen out of range: %d", i)
		}
		if vb, ok := ParseVarBlock(s); ok && len(vb.Rest) > len(s) {
			t.Fatal("rest longer than input")
		}
		_ = balanced(s)
		p, err := readPacket(bufio.NewReader(strings.NewReader(s)))
		if err == nil {
			_ = wellFormed(p)
		}
	})
}
