package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Retention is how long records are kept: the deployment sets one (vnumd
// flags) and a number may set its own. Zero means "not set" (for a
// number: the deployment's value applies; for the deployment: keep until
// purged, except where a store default applies).
//
// A number's value overrides the deployment's only when it is shorter:
// privacy wins, so an owner can ask for less to be kept, never more.
type Retention struct {
	CDR        time.Duration `json:"cdr,omitempty"`
	Recordings time.Duration `json:"recordings,omitempty"` // recorded calls: the files and their metadata
	Voicemail  time.Duration `json:"voicemail,omitempty"`  // voicemail messages: the files and their metadata
	// SMS is how long an SMS thread is kept after its last message. SMS
	// relaying does not exist yet; the SMS work applies it as the TTL of
	// a thread's keys (redisstore.SMSThreadKey), refreshed per message.
	SMS time.Duration `json:"sms,omitempty"`
}

// IsZero reports whether no period is set.
func (r Retention) IsZero() bool { return r == Retention{} }

// Validate refuses negative periods. The error names the bad value.
func (r Retention) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"cdr", r.CDR}, {"recordings", r.Recordings}, {"voicemail", r.Voicemail}, {"sms", r.SMS}} {
		if f.d < 0 {
			return fmt.Errorf("%s retention %s: must not be negative", f.name, f.d)
		}
	}
	return nil
}

// Apply returns the periods that hold for one number: each of the
// number's own periods where it is set and shorter than the deployment's
// (privacy wins), else the deployment's.
func (r Retention) Apply(number Retention) Retention {
	return Retention{
		CDR:        Shorter(r.CDR, number.CDR),
		Recordings: Shorter(r.Recordings, number.Recordings),
		Voicemail:  Shorter(r.Voicemail, number.Voicemail),
		SMS:        Shorter(r.SMS, number.SMS),
	}
}

// Shorter returns the shorter of two retention periods, zero meaning
// "not set".
func Shorter(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// ConsentMode says when a recorded call is announced to both parties
// before the recording starts.
type ConsentMode string

const (
	ConsentNever     ConsentMode = "never" // the default ("" reads as never)
	ConsentAlways    ConsentMode = "always"
	ConsentByCountry ConsentMode = "by-country" // when the caller or a target is in a consent country
)

// Validate checks a consent mode ("" is never).
func (m ConsentMode) Validate() error {
	switch m {
	case "", ConsentNever, ConsentAlways, ConsentByCountry:
		return nil
	}
	return fmt.Errorf("consent %q: want always, never or by-country", clip(string(m)))
}

// DefaultConsentCountries are the regions where by-country consent applies
// unless the deployment gives its own list (vnumd --consent-countries).
// They are the EEA members, Switzerland and the United Kingdom: recording
// a call there without telling the parties is a criminal offence in some
// (DE StGB §201, FR Code pénal art. 226-1, CH StGB art. 179bis, AT StGB
// §120) and, for a business, breaks the duty to inform under the GDPR /
// UK GDPR (art. 13) in all. The US (one-party consent federally, all-party
// in some states a country code cannot tell apart) and others are not in
// it. This list is a starting point, not legal advice: the operator's
// legal review decides.
var DefaultConsentCountries = []string{
	"AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR", "HU",
	"IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
}

// ParseCountries reads a comma- or space-separated list of ISO 3166
// two-letter codes (upper-cased, sorted, without duplicates). The error
// names the bad code.
func ParseCountries(s string) ([]string, error) {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		c := strings.ToUpper(f)
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return nil, fmt.Errorf("country %q: want an ISO 3166 two-letter code such as FR", clip(f))
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// NeedsConsent says whether a recorded call must be announced: always,
// never, or by country: when the caller's country or an E.164 target's is
// in countries (nil: DefaultConsentCountries). A withheld caller and SIP
// URI targets have no country and do not count.
func NeedsConsent(mode ConsentMode, countries []string, caller string, targets []Target) bool {
	switch mode {
	case ConsentAlways:
		return true
	case ConsentByCountry:
	default:
		return false
	}
	if countries == nil {
		countries = DefaultConsentCountries
	}
	if caller != Anonymous && caller != "" {
		if cc := consentCountry(caller); cc != "" && slices.Contains(countries, cc) {
			return true
		}
	}
	for _, t := range targets {
		if t.IsSIP() {
			continue
		}
		cc := t.Country
		if cc == "" {
			cc = consentCountry(t.E164)
		}
		if cc != "" && slices.Contains(countries, cc) {
			return true
		}
	}
	return false
}

// consentCountry is the region of a number for consent: CountryOf, or,
// for a number no region claims (a range not in service, such as the UK's
// drama numbers), the main region of its country code: when in doubt, the
// recording is announced.
func consentCountry(e164 string) string {
	if cc := CountryOf(e164); cc != "" {
		return cc
	}
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); r != "ZZ" {
		return r
	}
	return ""
}
