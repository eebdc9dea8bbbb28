package eslconn

import (
	"fmt"
	"sort"
	"strings"
)

// The rules below follow what a real FreeSWITCH 1.10.12 did with hostile
// caller names (shared fixtures2, scenario 6 "caller_name_escaping"):
//
//   - a byte < 0x20 ends or splits the ESL command (LF, CR) or is decoded
//     into one later: never let one through;
//   - an unbalanced '}' (or ']', '>') ends a {} / [] / <> variable block
//     whatever the quoting: there is no escape, the characters are removed;
//   - the originate API first splits its arguments at spaces (single quotes
//     protect spaces and are removed), then splits the {} block at commas
//     ("\," protects a comma, quotes do not);
//   - backslash sequences are unescaped in each of those passes (\\ -> \,
//     \' -> ', \n \r \t \s -> LF CR TAB space): backslashes are removed from
//     values so no pass can turn them into anything;
//   - '"' mangles the SIP display name and is removed; '$' is removed so no
//     later dialplan or application argument can expand ${...}; a single
//     quote is replaced by U+2019 (’) so it cannot pair up with another one.

// CheckArg rejects text that could end or split an ESL command: any byte
// below 0x20 (CR, LF, TAB and the other C0 controls) and DEL. Every
// argument of API, BgAPI and SendMsg goes through it.
func CheckArg(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character 0x%02x at offset %d", ErrUnsafeArg, c, i)
		}
	}
	return nil
}

// Sanitize removes every byte CheckArg rejects (all bytes < 0x20 and DEL).
// Use it on caller-supplied text (a SIP display name arrives URL-decoded,
// so a caller can send real CR/LF) before QuoteVar or SetVarValue when the
// call must go on rather than fail.
func Sanitize(s string) string {
	if CheckArg(s) == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c != 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// neutralise removes or replaces the characters no FreeSWITCH parsing pass
// handles safely (see the rules above). extra lists more bytes to remove.
func neutralise(s, extra string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\'':
			b.WriteRune('’')
		case strings.ContainsRune(`{}[]<>"\$`, r), r < 0x80 && strings.ContainsRune(extra, r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// QuoteVar encodes a value for a channel variable inside an originate or
// bridge variable block ({name=<here>} or [name=<here>]). The result is
// wrapped in single quotes (spaces survive the argument split) and has
// every comma escaped as "\,". Characters with no safe encoding are
// removed: { } [ ] < > " \ $; ' becomes ’; leading and trailing spaces are
// trimmed (FreeSWITCH trims them anyway). Errors wrap ErrUnsafeArg: a
// control character (< 0x20, DEL; call Sanitize first to strip them
// instead), or a value that is empty after all this, because FreeSWITCH
// silently drops "name=" from a block, and the leg would then inherit the
// A-leg's value (for a caller-ID name: the real caller's). Use a fixed
// fallback (e.g. the DID) in that case.
func QuoteVar(s string) (string, error) {
	if err := CheckArg(s); err != nil {
		return "", err
	}
	v := strings.Trim(neutralise(s, ""), " ")
	if v == "" {
		return "", fmt.Errorf("%w: empty value (FreeSWITCH would drop the variable)", ErrUnsafeArg)
	}
	return "'" + strings.ReplaceAll(v, ",", `\,`) + "'", nil
}

// OriginateVars renders a {k='v',...} block, keys sorted, values encoded
// with QuoteVar after Sanitize (control characters are stripped, not an
// error). Keys must match [A-Za-z0-9_.-]+ (they come from code, not
// callers). A value that is empty after QuoteVar's clean-up is an error
// (see QuoteVar). An empty map gives "".
func OriginateVars(vars map[string]string) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		if !validVarName(k) {
			return "", fmt.Errorf("%w: variable name %q", ErrUnsafeArg, clip(Sanitize(k)))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		q, err := QuoteVar(Sanitize(vars[k]))
		if err != nil {
			return "", fmt.Errorf("esl: variable %s: %w", k, err)
		}
		b.WriteString(k + "=" + q)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// SetVarValue encodes a value for the last argument of
// `uuid_setvar <uuid> <name> <value>`, which FreeSWITCH takes as the rest
// of the line after one unescaping pass (quotes and backslashes are
// processed, commas, braces and spaces are stored literally). It removes
// { } [ ] < > " \ $ like QuoteVar, replaces ' with ’, and rejects control
// characters. Do not put caller text into uuid_setvar_multi (it also splits
// at ';' and at spaces): use one uuid_setvar per such value.
func SetVarValue(s string) (string, error) {
	if err := CheckArg(s); err != nil {
		return "", err
	}
	return strings.TrimSpace(neutralise(s, "")), nil
}

func validVarName(k string) bool {
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
