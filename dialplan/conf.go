package dialplan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrSyntax is returned (wrapped, with the line number) for input that
// Asterisk's configuration parser would reject.
var ErrSyntax = errors.New("dialplan: syntax error")

// Conf is one Asterisk configuration file, in file order.
type Conf struct {
	Sections []*Section
	// Includes lists the #include and #tryinclude directives (not followed).
	Includes []Include
}

// Include is an #include or #tryinclude directive.
type Include struct {
	Try  bool // #tryinclude
	Path string
	Line int
}

// Section is one [category] of an Asterisk configuration file.
type Section struct {
	Name     string
	Template bool     // [name](!)
	Inherits []string // [name](tpl1,tpl2)
	Entries  []Entry
	Line     int
}

// Entry is one "key = value" or "key => value" line.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// maxLine bounds one configuration line; Asterisk's own limit is smaller.
const maxLine = 64 * 1024

// ParseConf reads an Asterisk configuration file (the format of
// extensions.conf, pjsip.conf, http.conf, ari.conf): [sections] with
// (!) templates and (a,b) inheritance, "key = value" and "key => value"
// entries, ";" comments (with "\;" escaping a literal semicolon), ";-- --;"
// block comments and #include/#tryinclude directives.
func ParseConf(r io.Reader) (*Conf, error) {
	c := &Conf{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var cur *Section
	inBlock := false
	for n := 1; sc.Scan(); n++ {
		line, stillInBlock := stripComments(sc.Text(), inBlock)
		inBlock = stillInBlock
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch {
		case line[0] == '#':
			inc, err := parseDirective(line, n)
			if err != nil {
				return nil, err
			}
			c.Includes = append(c.Includes, inc)
		case line[0] == '[':
			s, err := parseHeader(line, n)
			if err != nil {
				return nil, err
			}
			if s == nil { // "(+)": append to the last section of that name
				name := line[1:strings.IndexByte(line, ']')]
				cur = c.last(name)
				if cur == nil {
					return nil, fmt.Errorf("%w: line %d: (+) on unknown section %q", ErrSyntax, n, name)
				}
				continue
			}
			c.Sections = append(c.Sections, s)
			cur = s
		default:
			if cur == nil {
				return nil, fmt.Errorf("%w: line %d: entry outside of any [section]", ErrSyntax, n)
			}
			i := strings.IndexByte(line, '=')
			if i <= 0 {
				return nil, fmt.Errorf("%w: line %d: expected key = value", ErrSyntax, n)
			}
			key := strings.TrimSpace(line[:i])
			val := line[i+1:]
			if strings.HasPrefix(val, ">") {
				val = val[1:]
			}
			if key == "" {
				return nil, fmt.Errorf("%w: line %d: empty key", ErrSyntax, n)
			}
			cur.Entries = append(cur.Entries, Entry{Key: key, Value: strings.TrimSpace(val), Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dialplan: read: %w", err)
	}
	if inBlock {
		return nil, fmt.Errorf("%w: unterminated ;-- block comment", ErrSyntax)
	}
	return c, nil
}

// stripComments removes ";" comments and ";-- ... --;" block comments from
// one line and unescapes "\;".
func stripComments(line string, inBlock bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if inBlock {
			if strings.HasPrefix(line[i:], "--;") {
				inBlock = false
				i += 2
			}
			continue
		}
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == ';':
			b.WriteByte(';')
			i++
		case strings.HasPrefix(line[i:], ";--"):
			inBlock = true
			i += 2
		case line[i] == ';':
			return b.String(), false
		default:
			b.WriteByte(line[i])
		}
	}
	return b.String(), inBlock
}

func parseDirective(line string, n int) (Include, error) {
	word, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i > 0 {
		word, rest = line[:i], line[i+1:]
	}
	inc := Include{Line: n}
	switch word {
	case "#include":
	case "#tryinclude":
		inc.Try = true
	case "#exec":
		return inc, fmt.Errorf("%w: line %d: #exec is not allowed in vnum configuration", ErrSyntax, n)
	default:
		return inc, fmt.Errorf("%w: line %d: unknown directive %q", ErrSyntax, n, word)
	}
	p := strings.TrimSpace(rest)
	if len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '<' && p[len(p)-1] == '>') {
		p = p[1 : len(p)-1]
	}
	if p == "" {
		return inc, fmt.Errorf("%w: line %d: %s without a file", ErrSyntax, n, word)
	}
	inc.Path = p
	return inc, nil
}

// parseHeader parses "[name]" or "[name](options)". It returns nil, nil for
// "[name](+)", which appends to an earlier section.
func parseHeader(line string, n int) (*Section, error) {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return nil, fmt.Errorf("%w: line %d: missing ]", ErrSyntax, n)
	}
	name := strings.TrimSpace(line[1:end])
	if name == "" {
		return nil, fmt.Errorf("%w: line %d: empty section name", ErrSyntax, n)
	}
	s := &Section{Name: name, Line: n}
	rest := strings.TrimSpace(line[end+1:])
	if rest == "" {
		return s, nil
	}
	if rest[0] != '(' || rest[len(rest)-1] != ')' {
		return nil, fmt.Errorf("%w: line %d: unexpected %q after section name", ErrSyntax, n, rest)
	}
	for _, opt := range strings.Split(rest[1:len(rest)-1], ",") {
		switch opt = strings.TrimSpace(opt); opt {
		case "":
		case "!":
			s.Template = true
		case "+":
			return nil, nil
		default:
			s.Inherits = append(s.Inherits, opt)
		}
	}
	return s, nil
}

func (c *Conf) last(name string) *Section {
	for i := len(c.Sections) - 1; i >= 0; i-- {
		if c.Sections[i].Name == name {
			return c.Sections[i]
		}
	}
	return nil
}

// Find returns every section called name, in file order (pjsip.conf may use
// one name for an endpoint and an aor).
func (c *Conf) Find(name string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// OfType returns the non-template sections whose effective "type" is typ
// (pjsip.conf, ari.conf).
func (c *Conf) OfType(typ string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if s.Template {
			continue
		}
		if v, _ := c.Get(s, "type"); v == typ {
			out = append(out, s)
		}
	}
	return out
}

// Effective returns the entries of s after template inheritance: the
// entries of each inherited section (recursively, in order), then its own.
func (c *Conf) Effective(s *Section) []Entry {
	return c.effective(s, 0)
}

func (c *Conf) effective(s *Section, depth int) []Entry {
	if depth > 16 {
		return s.Entries
	}
	var out []Entry
	for _, name := range s.Inherits {
		if t := c.before(name, s); t != nil {
			out = append(out, c.effective(t, depth+1)...)
		}
	}
	return append(out, s.Entries...)
}

// before returns the last section called name defined before s.
func (c *Conf) before(name string, s *Section) *Section {
	var found *Section
	for _, t := range c.Sections {
		if t == s {
			break
		}
		if t.Name == name {
			found = t
		}
	}
	return found
}

// Get returns the last effective value of key in s.
func (c *Conf) Get(s *Section, key string) (string, bool) {
	all := c.All(s, key)
	if len(all) == 0 {
		return "", false
	}
	return all[len(all)-1], true
}

// All returns every effective value of key in s, in order.
func (c *Conf) All(s *Section, key string) []string {
	var out []string
	for _, e := range c.Effective(s) {
		if e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}
