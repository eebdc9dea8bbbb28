package routing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadSchedule is returned (wrapped) for a schedule rule that does not parse.
var ErrBadSchedule = errors.New(`want "DAYS [HH:MM-HH:MM] forward TARGET[,TARGET]|voicemail|reject", e.g. "mon-fri 09:00-18:00 forward +33140000000"`)

// ScheduleRule switches a number to another route during a weekly time
// window in the number's time zone. The first rule that matches wins; when
// none does, the number's main route applies.
type ScheduleRule struct {
	Spec string `json:"spec"` // as the user wrote it
	// Days[time.Weekday] is true on the days the window starts.
	Days [7]bool `json:"days"`
	// Start and End are minutes after midnight; End <= Start wraps past
	// midnight into the next day; Start == End == 0 is the whole day.
	Start int   `json:"start"`
	End   int   `json:"end"`
	Route Route `json:"route"`
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseSchedule reads one schedule rule:
//
//	mon-fri 09:00-18:00 forward +33140000000,sip:desk@pbx.example.com
//	mon-fri 18:00-09:00 voicemail     (wraps past midnight)
//	sat,sun voicemail                 (the whole day)
//	daily 12:00-13:00 reject
//
// Targets are parsed like ParseTarget. The rule's route takes strategy,
// ring timeout, caller ID, recording and voicemail from the number's main
// route when the decision applies it.
func ParseSchedule(s, defaultRegion string) (ScheduleRule, error) {
	bad := func(why string) (ScheduleRule, error) {
		if why != "" {
			return ScheduleRule{}, fmt.Errorf("schedule %q: %s: %w", clip(s), why, ErrBadSchedule)
		}
		return ScheduleRule{}, fmt.Errorf("schedule %q: %w", clip(s), ErrBadSchedule)
	}
	if len(s) > 4*maxInput {
		return bad("too long")
	}
	f := strings.Fields(s)
	if len(f) < 2 {
		return bad("")
	}
	rule := ScheduleRule{Spec: strings.Join(f, " ")}
	days, err := parseDays(f[0])
	if err != nil {
		return bad(err.Error())
	}
	rule.Days = days
	f = f[1:]
	if strings.Contains(f[0], ":") || f[0][0] >= '0' && f[0][0] <= '9' {
		start, end, err := parseWindow(f[0])
		if err != nil {
			return bad(err.Error())
		}
		rule.Start, rule.End = start, end
		f = f[1:]
	}
	if len(f) == 0 {
		return bad("no action")
	}
	switch strings.ToLower(f[0]) {
	case "voicemail":
		rule.Route = Route{Action: RouteVoicemail}
	case "reject":
		rule.Route = Route{Action: RouteReject}
	case "forward":
		if len(f) != 2 {
			return bad("forward needs one comma-separated list of targets")
		}
		rule.Route = Route{Action: RouteForward}
		for _, t := range strings.Split(f[1], ",") {
			tg, err := ParseTarget(t, defaultRegion)
			if err != nil {
				return bad(err.Error())
			}
			rule.Route.Targets = append(rule.Route.Targets, tg)
		}
		return rule, nil
	default:
		return bad(fmt.Sprintf("unknown action %q", clip(f[0])))
	}
	if len(f) != 1 {
		return bad(fmt.Sprintf("unexpected %q after %s", clip(f[1]), f[0]))
	}
	return rule, nil
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	s = strings.ToLower(s)
	if s == "daily" || s == "*" {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return days, fmt.Errorf("unknown day %q", clip(from))
		}
		if !isRange {
			days[a] = true
			continue
		}
		b, ok := dayNames[to]
		if !ok {
			return days, fmt.Errorf("unknown day %q", clip(to))
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return days, nil
}

func parseWindow(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time window %q: want HH:MM-HH:MM", clip(s))
	}
	start, err := parseClock(a, false)
	if err != nil {
		return 0, 0, err
	}
	end, err := parseClock(b, true)
	if err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, fmt.Errorf("time window %q is empty", clip(s))
	}
	if end == 24*60 {
		end = 0
	}
	return start, end, nil
}

func parseClock(s string, allow24 bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("time %q: want HH:MM", clip(s))
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !allow24)) {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", clip(s))
	}
	return hh*60 + mm, nil
}

// Matches reports whether the rule's window covers t (already in the
// number's time zone).
func (r ScheduleRule) Matches(t time.Time) bool {
	d := t.Weekday()
	m := t.Hour()*60 + t.Minute()
	prev := (d + 6) % 7
	switch {
	case r.Start == 0 && r.End == 0:
		return r.Days[d]
	case r.Start < r.End:
		return r.Days[d] && m >= r.Start && m < r.End
	default: // wraps past midnight
		return (r.Days[d] && m >= r.Start) || (r.Days[prev] && m < r.End)
	}
}
