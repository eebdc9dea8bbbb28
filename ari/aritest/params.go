package aritest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// params are a request's parameters: Asterisk accepts both the query string
// and a JSON object body. In the query string a list is comma-separated;
// in JSON a list must be an array (a string is one item, commas included).
type params struct {
	q    url.Values
	body map[string]json.RawMessage
}

var errBadBody = errors.New("aritest: request body is not a JSON object")

func parseParams(r *http.Request) (*params, error) {
	q := r.URL.Query()
	body := reqBody(r)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		// Asterisk merges form variables with the query string.
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errBadBody
		}
		for k, v := range form {
			q[k] = append(q[k], v...)
		}
		body = nil
	}
	return parseParamBytes(q, body)
}

func parseParamBytes(q url.Values, body []byte) (*params, error) {
	p := &params{q: q}
	if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
		if err := json.Unmarshal(b, &p.body); err != nil {
			return nil, errBadBody
		}
	}
	return p, nil
}

// str returns a scalar parameter (JSON string, number or bool, or query).
func (p *params) str(name string) (string, bool) {
	if raw, ok := p.body[name]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&n) == nil {
			return n.String(), true
		}
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return strconv.FormatBool(b), true
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			return list[0], true
		}
		return "", false
	}
	if p.q.Has(name) {
		return p.q.Get(name), true
	}
	return "", false
}

func (p *params) get(name string) string {
	s, _ := p.str(name)
	return s
}

// list returns a list parameter (see params).
func (p *params) list(name string) []string {
	if raw, ok := p.body[name]; ok {
		var l []string
		if json.Unmarshal(raw, &l) == nil {
			return l
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, v := range p.q[name] {
		for _, x := range strings.Split(v, ",") {
			if x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func (p *params) int(name string, def int) (int, bool) {
	s, ok := p.str(name)
	if !ok || s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return def, false
		}
		n = int(f)
	}
	return n, true
}

func (p *params) bool(name string) bool {
	s, _ := p.str(name)
	b, _ := strconv.ParseBool(s)
	return b
}

// vars reads the "variables" object of an originate ({"variables":{...}}
// as the CyCoreSystems client and Asterisk's docs send it).
func (p *params) vars() map[string]string {
	raw, ok := p.body["variables"]
	if !ok {
		return nil
	}
	var wrapped struct {
		Variables map[string]string `json:"variables"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Variables != nil {
		return wrapped.Variables
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		return m
	}
	return nil
}

// parseCallerID splits an originate callerId such as `"Name" <123>`,
// `Name <123>`, `<123>` or `123` into name and number, as Asterisk's
// ast_callerid_parse does for these forms.
func parseCallerID(s string) (name, number string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if lt := strings.LastIndexByte(s, '<'); lt >= 0 {
		rest := s[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			number = strings.TrimSpace(rest[:gt])
			name = strings.TrimSpace(s[:lt])
			if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
				name = name[1 : len(name)-1]
			}
			name = strings.ReplaceAll(name, `\"`, `"`)
			return name, shrinkNumber(number)
		}
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1], ""
	}
	if strings.Trim(s, "+0123456789*#-() .") == "" {
		return "", shrinkNumber(s)
	}
	return s, ""
}

// shrinkNumber drops the punctuation Asterisk's ast_shrink_phone_number
// removes from a number made only of digits, +*# and ( ) - . or spaces.
func shrinkNumber(n string) string {
	if strings.Trim(n, "+0123456789*#-() .") != "" {
		return n
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '(', ')', '-', '.', ' ':
			return -1
		}
		return r
	}, n)
}
