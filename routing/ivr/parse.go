package ivr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vnum/vnum/routing"
)

// Parse reads an IVR file strictly: unknown keys, a missing prompt, an
// unknown menu, a loop without exit, a menu no call can reach, bad
// targets, durations or names are errors (a *PathError naming the place,
// wrapping ErrInvalid). defaultRegion reads national-format targets
// (they are stored in E.164). The result is validated, defaults filled.
func Parse(data []byte, defaultRegion string) (*Menu, error) {
	if len(data) > MaxFileSize {
		return nil, &PathError{Msg: fmt.Sprintf("file is %d bytes, at most %d", len(data), MaxFileSize)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &PathError{Msg: oneLine(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &PathError{Msg: "empty file"}
	}
	if doc := root.Content[0]; doc.Kind != yaml.MappingNode {
		return nil, &PathError{Line: doc.Line, Msg: "want a mapping with start and menus"}
	}
	locs := locate(&root)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Menu
	if err := dec.Decode(&m); err != nil {
		return nil, decodeError(err, locs)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &PathError{Msg: "more than one YAML document"}
	}
	if err := m.Validate(defaultRegion); err != nil {
		var pe *PathError
		if errors.As(err, &pe) && pe.Line == 0 {
			pe.Line = locs.line(pe.Path)
		}
		return nil, err
	}
	return &m, nil
}

// Marshal writes a menu back as YAML (canonical: defaults filled, targets
// in E.164, keys sorted; comments are not kept).
func Marshal(m *Menu) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("ivr: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("ivr: marshal: %w", err)
	}
	return b.Bytes(), nil
}

// UnmarshalYAML reads "5s", reporting a bad value with its line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as 5s", n.Line)}}
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

var (
	menuName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	roomName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	digitsKey = regexp.MustCompile(`^[0-9*#]{1,20}$`)
)

// Validate checks a menu as a whole and fills its defaults and targets.
// The error is the first problem found (menus and options in sorted
// order), a *PathError.
func (m *Menu) Validate(defaultRegion string) error {
	if len(m.Menus) == 0 {
		return &PathError{Path: "menus", Msg: "missing"}
	}
	if len(m.Menus) > MaxMenus {
		return &PathError{Path: "menus", Msg: fmt.Sprintf("%d menus, at most %d", len(m.Menus), MaxMenus)}
	}
	if m.Start == "" {
		return &PathError{Path: "start", Msg: "missing"}
	}
	if _, ok := m.Menus[m.Start]; !ok {
		return &PathError{Path: "start", Msg: fmt.Sprintf("unknown menu %q", clip(m.Start))}
	}
	names := m.names()
	for _, name := range names {
		p := "menus." + seg(name)
		if !menuName.MatchString(name) {
			return &PathError{Path: p, Msg: fmt.Sprintf("menu name: want 1 to %d of A-Z a-z 0-9 _ -", maxNameLen)}
		}
		if err := m.Menus[name].validate(p, m, defaultRegion); err != nil {
			return err
		}
	}
	return m.checkGraph(names)
}

func (m *Menu) names() []string {
	names := make([]string, 0, len(m.Menus))
	for k := range m.Menus {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func (n *Node) validate(p string, m *Menu, region string) error {
	if n == nil {
		return &PathError{Path: p, Msg: "empty menu: a prompt is required"}
	}
	if n.Prompt == "" {
		return &PathError{Path: p + ".prompt", Msg: "missing"}
	}
	for _, pr := range []struct {
		key string
		v   Prompt
	}{{"prompt", n.Prompt}, {"timeout_prompt", n.TimeoutPrompt}, {"invalid_prompt", n.InvalidPrompt}} {
		if pr.v == "" {
			continue
		}
		if msg := pr.v.check(); msg != "" {
			return &PathError{Path: p + "." + pr.key, Msg: msg}
		}
	}
	for _, d := range []struct {
		key string
		v   *Duration
		def time.Duration
	}{{"timeout", &n.Timeout, DefaultTimeout}, {"digit_timeout", &n.DigitTimeout, DefaultDigitTimeout}} {
		if *d.v == 0 {
			*d.v = Duration(d.def)
		}
		if v := time.Duration(*d.v); v < MinTimeout || v > MaxTimeout {
			return &PathError{Path: p + "." + d.key, Msg: fmt.Sprintf("%s: want %s to %s", v, MinTimeout, MaxTimeout)}
		}
	}
	if n.Retries == nil {
		r := DefaultRetries
		n.Retries = &r
	}
	if r := *n.Retries; r < 0 || r > MaxRetries {
		return &PathError{Path: p + ".retries", Msg: fmt.Sprintf("%d: want 0 to %d", r, MaxRetries)}
	}
	if len(n.Options) == 0 {
		n.Options = nil // "options: {}" is no options
	}
	if len(n.Options) > MaxOptions {
		return &PathError{Path: p + ".options", Msg: fmt.Sprintf("%d options, at most %d", len(n.Options), MaxOptions)}
	}
	keys := make([]string, 0, len(n.Options))
	longest := 1
	for k := range n.Options {
		keys = append(keys, k)
		longest = max(longest, len(k))
	}
	slices.Sort(keys)
	if n.MaxDigits == 0 {
		n.MaxDigits = min(longest, MaxDigitsCap)
	}
	if n.MaxDigits < 1 || n.MaxDigits > MaxDigitsCap {
		return &PathError{Path: p + ".max_digits", Msg: fmt.Sprintf("%d: want 1 to %d", n.MaxDigits, MaxDigitsCap)}
	}
	for _, k := range keys {
		op := p + ".options." + strconv.Quote(clip(k))
		if !digitsKey.MatchString(k) {
			return &PathError{Path: op, Msg: "want 1 to 20 of the keys 0-9 * # (quote the key in YAML)"}
		}
		if len(k) > n.MaxDigits {
			return &PathError{Path: op, Msg: fmt.Sprintf("%d digits but max_digits is %d", len(k), n.MaxDigits)}
		}
		if err := n.Options[k].validate(op, m, region, false); err != nil {
			return err
		}
	}
	if n.Default != nil {
		if err := n.Default.validate(p+".default", m, region, true); err != nil {
			return err
		}
	}
	return nil
}

func (a *Action) validate(p string, m *Menu, region string, isDefault bool) error {
	if a == nil {
		return &PathError{Path: p, Msg: "no action (want one of forward, menu, conference, voicemail, repeat, hangup)"}
	}
	var set []string
	if a.Forward != nil {
		set = append(set, "forward")
	}
	if a.Menu != "" {
		set = append(set, "menu")
	}
	if a.Conference != "" {
		set = append(set, "conference")
	}
	for _, b := range []struct {
		key string
		v   *bool
	}{{"voicemail", a.Voicemail}, {"repeat", a.Repeat}, {"hangup", a.Hangup}} {
		if b.v == nil {
			continue
		}
		if !*b.v {
			return &PathError{Path: p + "." + b.key, Msg: "false is not an action: leave the key out"}
		}
		set = append(set, b.key)
	}
	switch {
	case len(set) == 0:
		return &PathError{Path: p, Msg: "no action (want one of forward, menu, conference, voicemail, repeat, hangup)"}
	case len(set) > 1:
		return &PathError{Path: p, Msg: fmt.Sprintf("more than one action (%s): want exactly one", strings.Join(set, ", "))}
	}
	if a.Strategy != "" && a.Forward == nil {
		return &PathError{Path: p + ".strategy", Msg: "only with forward"}
	}
	switch set[0] {
	case "forward":
		if len(a.Forward) == 0 {
			return &PathError{Path: p + ".forward", Msg: "no target"}
		}
		if len(a.Forward) > MaxTargets {
			return &PathError{Path: p + ".forward", Msg: fmt.Sprintf("%d targets, at most %d", len(a.Forward), MaxTargets)}
		}
		if a.Strategy != "" {
			if err := a.Strategy.Validate(); err != nil {
				return &PathError{Path: p + ".strategy", Msg: err.Error()}
			}
		}
		a.Targets = make([]routing.Target, len(a.Forward))
		for i, s := range a.Forward {
			t, err := routing.ParseTarget(s, region)
			if err != nil {
				return &PathError{Path: fmt.Sprintf("%s.forward[%d]", p, i), Msg: err.Error()}
			}
			if t.E164 != "" {
				t.Country = routing.CountryOf(t.E164)
			}
			a.Forward[i], a.Targets[i] = t.String(), t
		}
	case "menu":
		if _, ok := m.Menus[a.Menu]; !ok {
			return &PathError{Path: p + ".menu", Msg: fmt.Sprintf("unknown menu %q", clip(a.Menu))}
		}
	case "conference":
		if !roomName.MatchString(a.Conference) {
			return &PathError{Path: p + ".conference", Msg: fmt.Sprintf("room %q: want 1 to %d of A-Z a-z 0-9 _ -", clip(a.Conference), maxRoomLen)}
		}
	case "repeat":
		if isDefault {
			return &PathError{Path: p + ".repeat", Msg: "a default that repeats the menu never ends the call: use a terminal action or another menu"}
		}
	}
	return nil
}

// edges lists the menus a menu leads to, through its options and default,
// sorted and without duplicates.
func (n *Node) edges() []string {
	var out []string
	for _, a := range n.Options {
		if a.Kind() == KindMenu {
			out = append(out, a.Menu)
		}
	}
	if n.Default.Kind() == KindMenu {
		out = append(out, n.Default.Menu)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// terminal reports whether a menu itself ends the IVR by one of its
// options or its default (no default hangs up).
func (n *Node) terminal() bool {
	if n.Default.Kind().Terminal() {
		return true
	}
	for _, a := range n.Options {
		if a.Kind().Terminal() {
			return true
		}
	}
	return false
}

// checkGraph finds menus from which no terminal action can be reached (a
// loop without exit) and menus no call can reach.
func (m *Menu) checkGraph(names []string) error {
	exits := make(map[string]bool, len(names))
	for _, name := range names {
		exits[name] = m.Menus[name].terminal()
	}
	for changed := true; changed; {
		changed = false
		for _, name := range names {
			if exits[name] {
				continue
			}
			for _, e := range m.Menus[name].edges() {
				if exits[e] {
					exits[name], changed = true, true
					break
				}
			}
		}
	}
	reached := map[string]bool{m.Start: true}
	queue := []string{m.Start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range m.Menus[cur].edges() {
			if !reached[e] {
				reached[e] = true
				queue = append(queue, e)
			}
		}
	}
	for _, name := range names {
		if reached[name] && !exits[name] {
			return &PathError{Path: "menus." + seg(name), Msg: "loop without exit (" + m.trap(name) + ")"}
		}
	}
	for _, name := range names {
		if !reached[name] {
			return &PathError{Path: "menus." + seg(name), Msg: fmt.Sprintf("not reachable from start menu %q", m.Start)}
		}
	}
	return nil
}

// trap follows a menu without exit until a menu repeats: "a → b → c → b".
// Every menu it passes has no exit, so each leads to another such menu.
func (m *Menu) trap(from string) string {
	seen := map[string]bool{}
	path := []string{}
	for cur := from; ; {
		path = append(path, cur)
		if seen[cur] {
			break
		}
		seen[cur] = true
		es := m.Menus[cur].edges()
		if len(es) == 0 { // not reached for a menu without exit; be safe
			break
		}
		cur = es[0]
	}
	return strings.Join(path, " → ")
}

// CheckCountries refuses forward targets outside a number's allowed
// destination countries (empty allows all; SIP URIs are not subject to it).
func (m *Menu) CheckCountries(allow []string) error {
	if len(allow) == 0 {
		return nil
	}
	var err error
	m.eachAction(func(p string, a *Action) bool {
		for i, t := range a.Targets {
			if t.E164 != "" && !slices.Contains(allow, t.Country) {
				err = &PathError{Path: fmt.Sprintf("%s.forward[%d]", p, i),
					Msg: fmt.Sprintf("%s is in %q, not in the number's allowed countries %s", t.E164, t.Country, strings.Join(allow, ","))}
				return false
			}
		}
		return true
	})
	return err
}

// Restrict drops forward targets outside the allowed countries (empty
// allows all), for a menu stored before the number's limits changed. A
// forward left without a target hangs up. It returns the paths changed.
func (m *Menu) Restrict(allow []string) []string {
	if len(allow) == 0 {
		return nil
	}
	var changed []string
	m.eachAction(func(p string, a *Action) bool {
		if a.Kind() != KindForward {
			return true
		}
		var keep []routing.Target
		for _, t := range a.Targets {
			if t.E164 == "" || slices.Contains(allow, t.Country) {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(a.Targets) {
			return true
		}
		changed = append(changed, p)
		if len(keep) == 0 {
			*a = *hangupAction()
			return true
		}
		a.Targets = keep
		a.Forward = make([]string, len(keep))
		for i, t := range keep {
			a.Forward[i] = t.String()
		}
		return true
	})
	return changed
}

// eachAction calls f for every option and default, in sorted order, until
// it returns false.
func (m *Menu) eachAction(f func(path string, a *Action) bool) {
	for _, name := range m.names() {
		n := m.Menus[name]
		if n == nil {
			continue
		}
		p := "menus." + seg(name)
		keys := make([]string, 0, len(n.Options))
		for k := range n.Options {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if a := n.Options[k]; a != nil && !f(p+".options."+strconv.Quote(k), a) {
				return
			}
		}
		if n.Default != nil && !f(p+".default", n.Default) {
			return
		}
	}
}

// seg writes a map key as a path segment: bare when it is a plain name.
func seg(k string) string {
	if menuName.MatchString(k) {
		return k
	}
	return strconv.Quote(clip(k))
}

// locations maps the paths of a YAML document to their lines.
type locations struct {
	byPath map[string]int
	all    []loc
}

type loc struct {
	path, key        string
	keyLine, valLine int
	valKind          yaml.Kind
	value            string // a scalar value
}

func (l *locations) line(path string) int {
	for p := path; p != ""; {
		if n, ok := l.byPath[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// locate walks a parsed document and records where every key is.
func locate(root *yaml.Node) *locations {
	l := &locations{byPath: map[string]int{}}
	var walk func(n *yaml.Node, path string, options bool)
	walk = func(n *yaml.Node, path string, options bool) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, false)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				s := seg(k.Value)
				if options {
					s = strconv.Quote(clip(k.Value))
				}
				p := s
				if path != "" {
					p = path + "." + s
				}
				if _, ok := l.byPath[p]; !ok {
					l.byPath[p] = k.Line
				}
				l.all = append(l.all, loc{path: p, key: k.Value, keyLine: k.Line, valLine: v.Line, valKind: v.Kind, value: v.Value})
				walk(v, p, k.Value == "options" && strings.HasPrefix(path, "menus."))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, ok := l.byPath[p]; !ok {
					l.byPath[p] = c.Line
				}
				walk(c, p, false)
			}
		}
	}
	walk(root, "", false)
	return l
}

var (
	lineMsg      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (.+) not found in type `)
	cannotInto   = regexp.MustCompile("^cannot unmarshal !!(\\w+) (`[^`]*` )?into (.+)$")
)

// decodeError turns yaml.v3's decoding errors (several lines, Go type
// names) into one PathError naming the first problem's place.
func decodeError(err error, locs *locations) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return &PathError{Msg: oneLine(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	first := te.Errors[0]
	sm := lineMsg.FindStringSubmatch(first)
	if sm == nil {
		return &PathError{Msg: oneLine(first)}
	}
	line, _ := strconv.Atoi(sm[1])
	msg := sm[2]
	if f := unknownField.FindStringSubmatch(msg); f != nil {
		for _, l := range locs.all {
			if l.keyLine == line && l.key == f[1] {
				return &PathError{Path: l.path, Line: line, Msg: "unknown key"}
			}
		}
		return &PathError{Line: line, Msg: fmt.Sprintf("unknown key %q", clip(f[1]))}
	}
	if c := cannotInto.FindStringSubmatch(msg); c != nil {
		want := c[3]
		switch {
		case strings.HasSuffix(want, "int"):
			want = "a whole number"
		case strings.HasSuffix(want, "bool"):
			want = "true"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "ivr."), strings.HasPrefix(want, "*ivr."):
			want = "a mapping"
		default:
			want = "a single value"
		}
		got := kindName(c[1])
		if v := strings.TrimSpace(c[2]); v != "" {
			got += " " + v
		}
		msg = "got " + got + ", want " + want
		// The key on that line whose value is the one refused (several
		// keys share a line in a flow mapping).
		val, kind := strings.Trim(strings.TrimSpace(c[2]), "`"), map[string]yaml.Kind{"seq": yaml.SequenceNode, "map": yaml.MappingNode}[c[1]]
		for _, l := range locs.all {
			if l.valLine != line {
				continue
			}
			short, cut := strings.CutSuffix(val, "...") // yaml.v3 shortens long values
			same := l.value == val || cut && strings.HasPrefix(l.value, short)
			if kind != 0 && l.valKind == kind || kind == 0 && l.valKind == yaml.ScalarNode && same {
				return &PathError{Path: l.path, Line: line, Msg: oneLine(msg)}
			}
		}
	}
	// Else the deepest key whose value starts on that line.
	best := ""
	for _, l := range locs.all {
		if (l.valLine == line || l.keyLine == line) && len(l.path) > len(best) {
			best = l.path
		}
	}
	return &PathError{Path: best, Line: line, Msg: oneLine(msg)}
}

func kindName(tag string) string {
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "str":
		return "text"
	case "int", "float":
		return "a number"
	}
	return tag
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
