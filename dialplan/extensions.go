package dialplan

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors of the dialplan simulator.
var (
	// ErrNoExtension: no extension of the context matches the number.
	ErrNoExtension = errors.New("dialplan: no matching extension")
	// ErrFellThrough: the call ran past the last priority of an extension.
	ErrFellThrough = errors.New("dialplan: ran past the last priority")
	// ErrUnsupported: an application or expression the simulator does not model.
	ErrUnsupported = errors.New("dialplan: not supported by the simulator")
	// ErrLoop: the step limit was reached.
	ErrLoop = errors.New("dialplan: too many steps")
)

// Dialplan is the extensions of an extensions.conf, by context.
type Dialplan struct {
	contexts map[string]*Context
}

// Context is one dialplan context.
type Context struct {
	Name       string
	Extensions []*Extension
	Includes   []string
}

// Extension is one extension (or pattern) of a context.
type Extension struct {
	Pattern    string
	Priorities []Priority
}

// Priority is one step of an extension.
type Priority struct {
	N     int
	Label string
	App   string
	Data  string // the application's argument string, unsubstituted
	Line  int
}

// NewDialplan builds the dialplan of an extensions.conf. Sections other
// than [general] and [globals] are contexts; "exten", "same" and "include"
// entries are read, "n", "n(label)" and numeric priorities are resolved.
func NewDialplan(c *Conf) (*Dialplan, error) {
	d := &Dialplan{contexts: map[string]*Context{}}
	for _, s := range c.Sections {
		if s.Name == "general" || s.Name == "globals" {
			continue
		}
		ctx := d.contexts[s.Name]
		if ctx == nil {
			ctx = &Context{Name: s.Name}
			d.contexts[s.Name] = ctx
		}
		var last *Extension
		for _, e := range c.Effective(s) {
			switch e.Key {
			case "include":
				ctx.Includes = append(ctx.Includes, e.Value)
			case "exten":
				pattern, rest, ok := strings.Cut(e.Value, ",")
				if !ok {
					return nil, fmt.Errorf("%w: line %d: exten without priority", ErrSyntax, e.Line)
				}
				ext := ctx.extension(strings.TrimSpace(pattern))
				if err := ext.add(rest, e.Line); err != nil {
					return nil, err
				}
				last = ext
			case "same":
				if last == nil {
					return nil, fmt.Errorf("%w: line %d: same => without a preceding exten", ErrSyntax, e.Line)
				}
				if err := last.add(e.Value, e.Line); err != nil {
					return nil, err
				}
			}
		}
	}
	return d, nil
}

func (c *Context) extension(pattern string) *Extension {
	for _, e := range c.Extensions {
		if e.Pattern == pattern {
			return e
		}
	}
	e := &Extension{Pattern: pattern}
	c.Extensions = append(c.Extensions, e)
	return e
}

// add parses "prio,App(data)" and appends it.
func (e *Extension) add(s string, line int) error {
	prio, app, ok := strings.Cut(s, ",")
	if !ok {
		return fmt.Errorf("%w: line %d: priority without application", ErrSyntax, line)
	}
	prio = strings.TrimSpace(prio)
	if prio == "hint" {
		return nil
	}
	p := Priority{Line: line}
	if i := strings.IndexByte(prio, '('); i >= 0 {
		if !strings.HasSuffix(prio, ")") {
			return fmt.Errorf("%w: line %d: bad priority label %q", ErrSyntax, line, prio)
		}
		p.Label = prio[i+1 : len(prio)-1]
		prio = prio[:i]
	}
	switch {
	case prio == "n":
		if len(e.Priorities) == 0 {
			return fmt.Errorf("%w: line %d: priority n before priority 1", ErrSyntax, line)
		}
		p.N = e.Priorities[len(e.Priorities)-1].N + 1
	default:
		n, err := strconv.Atoi(prio)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: line %d: bad priority %q", ErrSyntax, line, prio)
		}
		p.N = n
	}
	app = strings.TrimSpace(app)
	if i := strings.IndexByte(app, '('); i >= 0 {
		if !strings.HasSuffix(app, ")") {
			return fmt.Errorf("%w: line %d: unbalanced application arguments", ErrSyntax, line)
		}
		p.App, p.Data = app[:i], app[i+1:len(app)-1]
	} else {
		p.App = app
	}
	for _, q := range e.Priorities {
		if q.N == p.N {
			return fmt.Errorf("%w: line %d: priority %d of %s defined twice", ErrSyntax, line, p.N, e.Pattern)
		}
	}
	e.Priorities = append(e.Priorities, p)
	slices.SortFunc(e.Priorities, func(a, b Priority) int { return a.N - b.N })
	return nil
}

// Context returns the named context.
func (d *Dialplan) Context(name string) (*Context, bool) {
	c, ok := d.contexts[name]
	return c, ok
}

// Match returns the extension Asterisk would pick for exten in context
// (exact names first, then the most specific pattern, then includes).
func (d *Dialplan) Match(context, exten string) (*Extension, error) {
	return d.match(context, exten, 0)
}

func (d *Dialplan) match(context, exten string, depth int) (*Extension, error) {
	ctx, ok := d.contexts[context]
	if !ok || depth > 8 {
		return nil, fmt.Errorf("%w: context %q", ErrNoExtension, context)
	}
	var best *Extension
	for _, e := range ctx.Extensions {
		if !MatchPattern(e.Pattern, exten) {
			continue
		}
		if best == nil || morePrecise(e.Pattern, best.Pattern) {
			best = e
		}
	}
	if best != nil {
		return best, nil
	}
	for _, inc := range ctx.Includes {
		if e, err := d.match(inc, exten, depth+1); err == nil {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w: %s@%s", ErrNoExtension, exten, context)
}

// MatchPattern reports whether exten matches an Asterisk extension pattern:
// a plain name matches itself; "_" patterns use X [0-9], Z [1-9], N [2-9],
// [set] with ranges, "." (one or more characters) and "!" (zero or more).
func MatchPattern(pattern, exten string) bool {
	if !strings.HasPrefix(pattern, "_") {
		return pattern == exten
	}
	return matchFrom(pattern[1:], exten)
}

func matchFrom(p, s string) bool {
	for len(p) > 0 {
		switch c := p[0]; c {
		case '.':
			return len(s) > 0
		case '!':
			return true
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 || len(s) == 0 || !inSet(p[1:end], s[0]) {
				return false
			}
			p, s = p[end+1:], s[1:]
		default:
			if len(s) == 0 || !classMatch(c, s[0]) {
				return false
			}
			p, s = p[1:], s[1:]
		}
	}
	return len(s) == 0
}

func classMatch(p, c byte) bool {
	switch p {
	case 'X', 'x':
		return c >= '0' && c <= '9'
	case 'Z', 'z':
		return c >= '1' && c <= '9'
	case 'N', 'n':
		return c >= '2' && c <= '9'
	}
	return p == c
}

func inSet(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if i+2 < len(set) && set[i+1] == '-' {
			if c >= set[i] && c <= set[i+2] {
				return true
			}
			i += 2
			continue
		}
		if set[i] == c {
			return true
		}
	}
	return false
}

// weights gives each pattern position the number of characters it admits
// (an approximation of Asterisk's ordering, enough for vnum's dialplans).
func weights(pattern string) []int {
	if !strings.HasPrefix(pattern, "_") {
		return nil
	}
	p := pattern[1:]
	var w []int
	for len(p) > 0 {
		switch p[0] {
		case 'X', 'x':
			w = append(w, 10)
		case 'Z', 'z':
			w = append(w, 9)
		case 'N', 'n':
			w = append(w, 8)
		case '.':
			w = append(w, 1000)
		case '!':
			w = append(w, 1001)
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(w, 1002)
			}
			n := 0
			for c := 0; c < 256; c++ {
				if inSet(p[1:end], byte(c)) {
					n++
				}
			}
			w = append(w, n)
			p = p[end:]
		default:
			w = append(w, 1)
		}
		p = p[1:]
	}
	return w
}

func morePrecise(a, b string) bool {
	if !strings.HasPrefix(a, "_") {
		return strings.HasPrefix(b, "_")
	}
	if !strings.HasPrefix(b, "_") {
		return false
	}
	wa, wb := weights(a), weights(b)
	for i := 0; i < len(wa) && i < len(wb); i++ {
		if wa[i] != wb[i] {
			return wa[i] < wb[i]
		}
	}
	return len(wa) > len(wb)
}

// Channel is the state of a simulated call.
type Channel struct {
	// Vars holds channel variables; Set(CALLERID(num)=...) is stored under
	// "CALLERID(num)".
	Vars map[string]string
}

// Var returns a channel variable ("" when unset).
func (ch *Channel) Var(name string) string { return ch.Vars[name] }

// AppFunc models a dialplan application for Simulate. args are the
// substituted, comma-split arguments. It returns true when the application
// ends the call.
type AppFunc func(ch *Channel, args []string) (hangup bool)

// Step is one executed priority.
type Step struct {
	Context  string
	Exten    string
	Priority int
	App      string
	Args     []string // substituted, comma-split
}

// Simulate runs one call through the dialplan from context/exten, priority
// 1, the way Asterisk would, and returns the executed steps. Set, Goto,
// GotoIf, NoOp, Log and Verbose are built in; Hangup, Busy and Congestion end
// the call; every other application must be in apps. Variables are
// substituted (${VAR}, ${EXTEN}, ${CONTEXT}) and $[a = b] / $[a != b]
// expressions evaluated.
func (d *Dialplan) Simulate(context, exten string, ch *Channel, apps map[string]AppFunc) ([]Step, error) {
	if ch.Vars == nil {
		ch.Vars = map[string]string{}
	}
	var trace []Step
	ext, err := d.Match(context, exten)
	if err != nil {
		return nil, err
	}
	idx, jumped := 0, true
	for steps := 0; ; steps++ {
		if steps > 1000 {
			return trace, ErrLoop
		}
		if idx >= len(ext.Priorities) {
			return trace, fmt.Errorf("%w: %s@%s", ErrFellThrough, exten, context)
		}
		p := ext.Priorities[idx]
		if !jumped && p.N != ext.Priorities[idx-1].N+1 {
			return trace, fmt.Errorf("%w: %s@%s has no priority %d", ErrFellThrough, exten, context, ext.Priorities[idx-1].N+1)
		}
		ch.Vars["EXTEN"], ch.Vars["CONTEXT"] = exten, context
		data, err := substitute(p.Data, ch)
		if err != nil {
			return trace, fmt.Errorf("line %d: %w", p.Line, err)
		}
		step := Step{Context: context, Exten: exten, Priority: p.N, App: p.App, Args: splitArgs(data)}
		trace = append(trace, step)
		next := idx + 1
		jumped = false
		switch strings.ToLower(p.App) {
		case "noop", "log", "verbose":
		case "set":
			name, val, ok := strings.Cut(data, "=")
			if !ok {
				return trace, fmt.Errorf("%w: line %d: Set without =", ErrSyntax, p.Line)
			}
			ch.Vars[strings.TrimSpace(name)] = val
		case "hangup", "busy", "congestion":
			return trace, nil
		case "goto", "gotoif":
			target := data
			if strings.EqualFold(p.App, "gotoif") {
				cond, labels, ok := strings.Cut(data, "?")
				if !ok {
					return trace, fmt.Errorf("%w: line %d: GotoIf without ?", ErrSyntax, p.Line)
				}
				ifTrue, ifFalse, _ := strings.Cut(labels, ":")
				target = ifFalse
				if c := strings.TrimSpace(cond); c != "" && c != "0" {
					target = ifTrue
				}
				if target == "" {
					break
				}
			}
			nctx, nexten, nidx, err := d.resolve(context, exten, target)
			if err != nil {
				return trace, fmt.Errorf("line %d: %w", p.Line, err)
			}
			context, exten = nctx, nexten
			if ext, err = d.Match(context, exten); err != nil {
				return trace, err
			}
			next, jumped = nidx(ext), true
			if next < 0 {
				return trace, fmt.Errorf("%w: line %d: no priority %q in %s@%s", ErrNoExtension, p.Line, target, exten, context)
			}
		default:
			fn, ok := apps[p.App]
			if !ok {
				return trace, fmt.Errorf("%w: application %s (line %d)", ErrUnsupported, p.App, p.Line)
			}
			if fn(ch, step.Args) {
				return trace, nil
			}
		}
		idx = next
	}
}

// resolve parses a Goto target "[[context,]exten,]priority" (priority is a
// number or a label) relative to the current position.
func (d *Dialplan) resolve(context, exten, target string) (string, string, func(*Extension) int, error) {
	parts := strings.Split(target, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	switch len(parts) {
	case 1:
	case 2:
		exten = parts[0]
	case 3:
		context, exten = parts[0], parts[1]
	default:
		return "", "", nil, fmt.Errorf("%w: goto target %q", ErrSyntax, target)
	}
	prio := parts[len(parts)-1]
	return context, exten, func(e *Extension) int {
		for i, p := range e.Priorities {
			if p.Label == prio || strconv.Itoa(p.N) == prio {
				return i
			}
		}
		return -1
	}, nil
}

// substitute expands ${VAR} and evaluates $[...] in s.
func substitute(s string, ch *Channel) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '{':
			end := matching(s, i+1, '{', '}')
			if end < 0 {
				return "", fmt.Errorf("%w: unbalanced ${ in %q", ErrSyntax, s)
			}
			name, err := substitute(s[i+2:end], ch)
			if err != nil {
				return "", err
			}
			if strings.ContainsAny(name, ":") {
				return "", fmt.Errorf("%w: substring ${%s}", ErrUnsupported, name)
			}
			b.WriteString(ch.Vars[name])
			i = end
		case '[':
			end := matching(s, i+1, '[', ']')
			if end < 0 {
				return "", fmt.Errorf("%w: unbalanced $[ in %q", ErrSyntax, s)
			}
			inner, err := substitute(s[i+2:end], ch)
			if err != nil {
				return "", err
			}
			v, err := evalExpr(inner)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

func matching(s string, open int, o, c byte) int {
	depth := 0
	for j := open; j < len(s); j++ {
		switch s[j] {
		case o:
			depth++
		case c:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// evalExpr evaluates the comparisons vnum's dialplan uses: a = b, a != b
// (quotes around either side are compared as part of the string, as
// Asterisk does when both sides are quoted alike).
func evalExpr(e string) (string, error) {
	for _, op := range []string{"!=", "="} {
		if a, b, ok := strings.Cut(e, op); ok {
			eq := unquote(strings.TrimSpace(a)) == unquote(strings.TrimSpace(b))
			if (op == "=") == eq {
				return "1", nil
			}
			return "0", nil
		}
	}
	return "", fmt.Errorf("%w: expression $[%s]", ErrUnsupported, e)
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// splitArgs splits application data at commas outside (), [] and quotes.
func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
