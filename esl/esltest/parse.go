package esltest

import (
	"strings"
)

// This file models how FreeSWITCH 1.10 tokenises command arguments
// (switch_utils.c: switch_separate_string / cleanup_separated_string) and
// originate variable blocks (switch_event_create_brackets,
// switch_find_end_paren). It is exported so client tests can check their
// escaping against the same model the emulator uses. The model reproduces
// every case of the lab's caller_name_escaping capture (see
// fidelity_test.go), not every corner of FreeSWITCH.

// unescapeChar is FreeSWITCH's unescape_char.
func unescapeChar(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}

// cleanup is cleanup_separated_string: strips unescaped single quotes
// (only when paired), processes backslash escapes (\' \" \<delim> \\ \n \r
// \t \s; any other backslash stays) and trims trailing unquoted spaces.
func cleanup(s string, delim byte) string {
	var out []byte
	end := 0
	inQuotes := false
	s = strings.TrimLeft(s, " ")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			if e == '\'' || e == '"' || (delim != 0 && e == delim) || e == '\\' || unescapeChar(e) != e {
				out = append(out, unescapeChar(e))
				end = len(out)
				i++
				continue
			}
		}
		if c == '\'' && (inQuotes || strings.IndexByte(s[i+1:], '\'') >= 0) {
			inQuotes = !inQuotes
			if inQuotes {
				end = len(out)
			}
			continue
		}
		out = append(out, c)
		if c != ' ' || inQuotes {
			end = len(out)
		}
	}
	return string(out[:end])
}

// SeparateString splits s at delim the way switch_separate_string does:
// quotes group, backslash escapes the next byte, at most max fields (the
// last takes the rest; max <= 0 means no limit), then every field is
// cleaned up (quotes stripped, escapes processed). For delim ' ' runs of
// spaces count as one separator.
func SeparateString(s string, delim byte, max int) []string {
	var fields []string
	start := -1
	inQuotes := false
	blank := delim == ' '
	for i := 0; i < len(s); i++ {
		if start < 0 {
			if blank && s[i] == ' ' {
				continue
			}
			if max > 0 && len(fields) == max-1 {
				fields = append(fields, s[i:])
				start = -2
				break
			}
			start = i
		}
		c := s[i]
		switch {
		case c == '\\':
			i++
		case c == '\'' && (inQuotes || strings.IndexByte(s[i+1:], '\'') >= 0):
			inQuotes = !inQuotes
		case c == delim && !inQuotes:
			fields = append(fields, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fields = append(fields, s[start:])
	}
	for i := range fields {
		fields[i] = cleanup(fields[i], delim)
	}
	return fields
}

// FindEndParen is switch_find_end_paren: the index of the byte closing the
// open bracket at s[0], counting nesting and ignoring quotes and
// backslashes, or -1.
func FindEndParen(s string, open, close byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// Var is one parsed channel variable assignment.
type Var struct{ Name, Value string }

// VarBlock is the result of parsing a leading {..} / [..] / <..> block.
type VarBlock struct {
	Vars []Var
	Rest string // what follows the block (the endpoint)
	// Problems lists anomalies that mean the block was not what its author
	// wrote: an item without '=', a duplicate name (the later one wins in
	// FreeSWITCH), a name that is not [A-Za-z0-9_.-]+.
	Problems []string
}

// Get returns the effective (last) value of a variable.
func (b VarBlock) Get(name string) (string, bool) {
	v, ok := "", false
	for _, x := range b.Vars {
		if x.Name == name {
			v, ok = x.Value, true
		}
	}
	return v, ok
}

// ParseVarBlock parses a dial-string argument that starts with {, [ or <
// (after the originate API already split its arguments at spaces). It
// returns ok=false when the block is not closed. "^^X" at the start of a
// block switches the item separator to X.
func ParseVarBlock(arg string) (b VarBlock, ok bool) {
	if arg == "" {
		return VarBlock{Rest: arg}, true
	}
	var open, close byte
	switch arg[0] {
	case '{':
		open, close = '{', '}'
	case '[':
		open, close = '[', ']'
	case '<':
		open, close = '<', '>'
	default:
		return VarBlock{Rest: arg}, true
	}
	end := FindEndParen(arg, open, close)
	if end < 0 {
		return VarBlock{}, false
	}
	inner := arg[1:end]
	b.Rest = arg[end+1:]
	sep := byte(',')
	if strings.HasPrefix(inner, "^^") && len(inner) > 2 {
		sep = inner[2]
		inner = inner[3:]
	}
	seen := map[string]bool{}
	for _, item := range SeparateString(inner, sep, 0) {
		kv := SeparateString(item, '=', 2)
		if len(kv) != 2 {
			b.Problems = append(b.Problems, "item without '=': "+item)
			continue
		}
		if !validName(kv[0]) {
			b.Problems = append(b.Problems, "bad variable name: "+kv[0])
		}
		if seen[kv[0]] {
			b.Problems = append(b.Problems, "duplicate variable: "+kv[0])
		}
		seen[kv[0]] = true
		b.Vars = append(b.Vars, Var{Name: kv[0], Value: kv[1]})
	}
	return b, true
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// balanced reports whether every {, [ closes in order in s (quotes ignored,
// as FreeSWITCH ignores them).
func balanced(s string) bool {
	var stack []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '[':
			stack = append(stack, s[i])
		case '}', ']':
			want := byte('{')
			if s[i] == ']' {
				want = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0
}
