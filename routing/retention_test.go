package routing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

// A number's retention overrides the deployment's only when shorter.
func TestRetentionApplyPrivacyWins(t *testing.T) {
	day := 24 * time.Hour
	deploy := routing.Retention{CDR: 90 * day, Recordings: 30 * day, Voicemail: 0, SMS: 10 * day}
	for _, c := range []struct {
		name   string
		number routing.Retention
		want   routing.Retention
	}{
		{"unset: the deployment's", routing.Retention{}, deploy},
		{"shorter wins", routing.Retention{CDR: day, Recordings: 2 * day, SMS: day},
			routing.Retention{CDR: day, Recordings: 2 * day, SMS: day}},
		{"longer is ignored", routing.Retention{CDR: 365 * day, Recordings: 31 * day, SMS: 11 * day}, deploy},
		{"the deployment keeps forever: the number's applies", routing.Retention{Voicemail: 7 * day},
			routing.Retention{CDR: 90 * day, Recordings: 30 * day, Voicemail: 7 * day, SMS: 10 * day}},
	} {
		if got := deploy.Apply(c.number); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestNumberValidateRetentionAndConsent(t *testing.T) {
	n := baseNumber()
	n.Retention.Recordings = -time.Hour
	if err := n.Validate(); err == nil || !strings.Contains(err.Error(), "recordings retention -1h0m0s") {
		t.Fatalf("negative retention: %v", err)
	}
	n = baseNumber()
	n.Consent = "sometimes"
	if err := n.Validate(); err == nil || !strings.Contains(err.Error(), `consent "sometimes"`) {
		t.Fatalf("bad consent: %v", err)
	}
	n = baseNumber()
	n.Consent, n.Retention.CDR = routing.ConsentByCountry, time.Hour
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Consent is decided with the forward: only for recorded calls, by the
// number's mode and, for by-country, the caller's or a target's country.
func TestDecideConsent(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		mode      routing.ConsentMode
		record    bool
		caller    string
		target    string
		countries []string
		want      bool
	}{
		{"never by default", "", true, caller, mobile, nil, false},
		{"never", routing.ConsentNever, true, caller, mobile, nil, false},
		{"always", routing.ConsentAlways, true, usCell, "+14155550199", nil, true},
		{"always but not recorded", routing.ConsentAlways, false, caller, mobile, nil, false},
		{"by-country: French target (default list)", routing.ConsentByCountry, true, usCell, mobile, nil, true},
		{"by-country: British caller", routing.ConsentByCountry, true, caller, "+14155550199", nil, true},
		{"by-country: US to US", routing.ConsentByCountry, true, usCell, "+14155550199", nil, false},
		{"by-country: anonymous to US", routing.ConsentByCountry, true, routing.Anonymous, "+14155550199", nil, false},
		{"by-country: the deployment's own list", routing.ConsentByCountry, true, usCell, "+14155550199", []string{"US"}, true},
		{"by-country: an empty list", routing.ConsentByCountry, true, caller, mobile, []string{}, false},
	} {
		n := baseNumber()
		n.Consent, n.Route.Record = c.mode, c.record
		n.Route.Targets = []routing.Target{{E164: c.target}}
		d := routing.Decide(routing.Call{ID: "c1", DID: did, Caller: c.caller, At: at},
			routing.Snapshot{Found: true, Number: n, ConsentCountries: c.countries})
		if d.Action != routing.ActionForward {
			t.Fatalf("%s: %+v", c.name, d)
		}
		if d.Consent != c.want || d.Record != c.record {
			t.Errorf("%s: consent %v record %v, want consent %v", c.name, d.Consent, d.Record, c.want)
		}
	}
	// A SIP target has no country.
	if routing.NeedsConsent(routing.ConsentByCountry, nil, usCell, []routing.Target{{SIPURI: "sip:alice@example.fr"}}) {
		t.Error("a SIP URI target counted as a consent country")
	}
}

func TestParseCountries(t *testing.T) {
	got, err := routing.ParseCountries("fr, DE,de GB")
	if err != nil || !slices.Equal(got, []string{"DE", "FR", "GB"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := routing.ParseCountries(""); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty list: %#v, %v", got, err)
	}
	for _, bad := range []string{"FRA", "F1", "fr,,x", "ÉÉ"} {
		if _, err := routing.ParseCountries(bad); err == nil || !strings.Contains(err.Error(), "country") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if !slices.IsSorted(routing.DefaultConsentCountries) {
		t.Error("DefaultConsentCountries is not sorted")
	}
}

func FuzzParseCountries(f *testing.F) {
	for _, s := range []string{"FR,DE", "fr de", "", ",,,", "FRA", "\x00\xff", strings.Repeat("FR,", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := routing.ParseCountries(s)
		if err != nil {
			return
		}
		for _, c := range got {
			if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
				t.Fatalf("%q gave code %q", s, c)
			}
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("%q: not sorted and unique: %v", s, got)
		}
	})
}
