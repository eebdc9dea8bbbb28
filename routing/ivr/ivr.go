// Package ivr is a number's IVR: a tree of named menus, each a prompt and
// the digits a caller may press, read strictly from YAML (Parse), and a
// walker (Run) that the call flow drives with the caller's digits.
//
// A file:
//
//	start: main
//	menus:
//	  main:
//	    prompt: sound:ivr-welcome        # "sound:NAME" (a PBX sound) or "file:NAME" (uploaded); required
//	    timeout: 5s                      # wait for the first digit (1s..60s, default 5s)
//	    digit_timeout: 2s                # between digits (1s..60s, default 2s)
//	    max_digits: 1                    # 1..20, default the longest option
//	    retries: 3                       # 0..9, default 3: attempts after the first one
//	    timeout_prompt: sound:ivr-no-input
//	    invalid_prompt: sound:ivr-invalid
//	    options:
//	      "1": {forward: ["+33612345678"], strategy: simultaneous}
//	      "2": {menu: sales}
//	      "3": {conference: room-42}
//	      "4": {voicemail: true}
//	      "9": {repeat: true}
//	      "0": {hangup: true}
//	    default: {voicemail: true}       # after retries are exhausted (default: hang up)
//
// The package knows no PBX and no Redis: routing/redisstore stores a Menu
// per number, the call flow plays what a Step says.
package ivr

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vnum/vnum/routing"
)

// Limits on a file.
const (
	MaxFileSize   = 64 << 10 // bytes
	MaxMenus      = 100
	MaxOptions    = 100 // per menu
	MaxTargets    = 10  // per forward
	MaxDigitsCap  = 20  // max_digits
	MaxRetries    = 9
	MinTimeout    = time.Second
	MaxTimeout    = 60 * time.Second
	maxNameLen    = 32  // menu names
	maxRoomLen    = 64  // conference rooms
	maxPromptName = 128 // prompt names
)

// Defaults filled by validation.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultDigitTimeout = 2 * time.Second
	DefaultRetries      = 3
)

// ErrInvalid is wrapped by every error about a file's content: a *PathError
// that names where in the file the problem is.
var ErrInvalid = errors.New("invalid IVR")

// PathError is a problem at one place of a file: Path as in
// `menus.main.options."2".menu`, Line when known (0 otherwise).
type PathError struct {
	Path string
	Line int
	Msg  string
}

func (e *PathError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *PathError) Unwrap() error { return ErrInvalid }

// Menu is a number's whole IVR: its named menus and the one a call starts in.
type Menu struct {
	Start string           `yaml:"start" json:"start"`
	Menus map[string]*Node `yaml:"menus" json:"menus"`
}

// Node is one menu of the tree: a prompt, then digits collected and
// matched against Options.
type Node struct {
	Prompt        Prompt             `yaml:"prompt" json:"prompt"`
	Timeout       Duration           `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	DigitTimeout  Duration           `yaml:"digit_timeout,omitempty" json:"digit_timeout,omitempty"`
	MaxDigits     int                `yaml:"max_digits,omitempty" json:"max_digits,omitempty"`
	Retries       *int               `yaml:"retries,omitempty" json:"retries,omitempty"`
	TimeoutPrompt Prompt             `yaml:"timeout_prompt,omitempty" json:"timeout_prompt,omitempty"`
	InvalidPrompt Prompt             `yaml:"invalid_prompt,omitempty" json:"invalid_prompt,omitempty"`
	Options       map[string]*Action `yaml:"options,omitempty" json:"options,omitempty"`
	// Default runs when retries are exhausted; nil hangs up.
	Default *Action `yaml:"default,omitempty" json:"default,omitempty"`
}

// Tries is how many times the menu is offered before its default runs
// (the first attempt plus its retries).
func (n *Node) Tries() int {
	if n.Retries == nil {
		return 1 + DefaultRetries
	}
	return 1 + *n.Retries
}

// Kind is what an action does.
type Kind string

const (
	KindForward    Kind = "forward"    // terminal: ring Targets with Strategy
	KindConference Kind = "conference" // terminal: join room Conference
	KindVoicemail  Kind = "voicemail"  // terminal: leave a message
	KindHangup     Kind = "hangup"     // terminal: end the call
	KindMenu       Kind = "menu"       // go to menu Menu
	KindRepeat     Kind = "repeat"     // offer the current menu again
)

// Terminal reports whether the action ends the IVR.
func (k Kind) Terminal() bool {
	switch k {
	case KindForward, KindConference, KindVoicemail, KindHangup:
		return true
	}
	return false
}

// Action is what one option (or a menu's default) does. Exactly one of
// its fields is set (Strategy only with Forward).
type Action struct {
	Forward    []string         `yaml:"forward,omitempty" json:"forward,omitempty"`
	Strategy   routing.Strategy `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	Menu       string           `yaml:"menu,omitempty" json:"menu,omitempty"`
	Conference string           `yaml:"conference,omitempty" json:"conference,omitempty"`
	Voicemail  *bool            `yaml:"voicemail,omitempty" json:"voicemail,omitempty"`
	Repeat     *bool            `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	Hangup     *bool            `yaml:"hangup,omitempty" json:"hangup,omitempty"`

	// Targets are Forward parsed (E.164 with their country, or SIP URIs),
	// filled by validation.
	Targets []routing.Target `yaml:"-" json:"-"`
}

// Kind says what the action does ("" for an action with nothing set).
func (a *Action) Kind() Kind {
	switch {
	case a == nil:
		return KindHangup
	case len(a.Forward) > 0:
		return KindForward
	case a.Menu != "":
		return KindMenu
	case a.Conference != "":
		return KindConference
	case a.Voicemail != nil:
		return KindVoicemail
	case a.Repeat != nil:
		return KindRepeat
	case a.Hangup != nil:
		return KindHangup
	}
	return ""
}

// String describes the action in words ("forward +336… (simultaneous)").
func (a *Action) String() string {
	switch k := a.Kind(); k {
	case KindForward:
		ts := a.Forward
		if len(a.Targets) == len(a.Forward) {
			ts = make([]string, len(a.Targets))
			for i, t := range a.Targets {
				ts[i] = t.String()
			}
		}
		return "forward " + strings.Join(ts, ", ") + " (" + string(a.strategy()) + ")"
	case KindMenu:
		return "menu " + a.Menu
	case KindConference:
		return "conference " + a.Conference
	default:
		return string(k)
	}
}

func (a *Action) strategy() routing.Strategy {
	if a.Strategy == "" {
		return routing.Sequential
	}
	return a.Strategy
}

// hangupAction is the default of a menu without one.
func hangupAction() *Action { t := true; return &Action{Hangup: &t} }

// Forwarding turns a forward action into the decision the call flow
// executes: d is the call's IVR decision (caller ID, ring timeout,
// recording, voicemail, slot), returned with Action forward and the
// option's targets and strategy.
func (a *Action) Forwarding(d routing.Decision) routing.Decision {
	d.Action = routing.ActionForward
	d.Targets = append([]routing.Target(nil), a.Targets...)
	d.Strategy = a.strategy()
	d.Detail = "IVR option: " + a.String()
	return d
}

// Prompt is a sound to play: "sound:NAME" (one of the PBX's sounds) or
// "file:NAME" (a file uploaded for vnum). NAME is limited to
// [A-Za-z0-9/_.-], never starts with '/' and has no ".." segment.
type Prompt string

// Sound returns the name of a "sound:" prompt.
func (p Prompt) Sound() (string, bool) { return strings.CutPrefix(string(p), "sound:") }

// File returns the name of a "file:" prompt.
func (p Prompt) File() (string, bool) { return strings.CutPrefix(string(p), "file:") }

func (p Prompt) check() string {
	name, ok := p.Sound()
	if !ok {
		if name, ok = p.File(); !ok {
			return fmt.Sprintf("%q: want sound:NAME or file:NAME", clip(string(p)))
		}
	}
	if name == "" || len(name) > maxPromptName {
		return fmt.Sprintf("%q: the name must have 1 to %d characters", clip(string(p)), maxPromptName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_.-", r)) {
			return fmt.Sprintf("%q: character %q not allowed (want A-Z a-z 0-9 / _ . -)", clip(string(p)), r)
		}
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return fmt.Sprintf("%q: not a relative name", clip(string(p)))
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("%q: no . or .. segments", clip(string(p)))
		}
	}
	return ""
}

// Duration is a time.Duration written as "5s" in YAML and JSON.
type Duration time.Duration

// MarshalText writes "5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "5s", "1m30s", "500ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a duration such as 5s", clip(string(b)))
	}
	*d = Duration(v)
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
