package dialplan

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoMatch is returned by FSContext.Hunt when no extension matches.
var ErrNoMatch = errors.New("dialplan: no extension matched")

// FSParam is a <param name= value=/> of a FreeSWITCH configuration.
type FSParam struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// FSConfiguration is one <configuration> document (an autoload_configs file).
type FSConfiguration struct {
	XMLName  xml.Name  `xml:"configuration"`
	Name     string    `xml:"name,attr"`
	Settings []FSParam `xml:"settings>param"`
}

// Param returns the value of the last setting called name.
func (c *FSConfiguration) Param(name string) (string, bool) {
	return lastParam(c.Settings, name)
}

// FSInclude is an <include> document: dialplan contexts or extensions, or
// sofia gateways.
type FSInclude struct {
	XMLName    xml.Name      `xml:"include"`
	Contexts   []FSContext   `xml:"context"`
	Extensions []FSExtension `xml:"extension"`
	Gateways   []FSGateway   `xml:"gateway"`
}

// FSContext is a dialplan <context>.
type FSContext struct {
	Name       string        `xml:"name,attr"`
	Extensions []FSExtension `xml:"extension"`
}

// FSExtension is a dialplan <extension>.
type FSExtension struct {
	Name       string        `xml:"name,attr"`
	Continue   string        `xml:"continue,attr"`
	Conditions []FSCondition `xml:"condition"`
}

// FSCondition is one <condition> of an extension.
type FSCondition struct {
	Field       string     `xml:"field,attr"`
	Expression  string     `xml:"expression,attr"`
	Actions     []FSAction `xml:"action"`
	AntiActions []FSAction `xml:"anti-action"`
}

// FSAction is an <action application= data=/>.
type FSAction struct {
	Application string `xml:"application,attr"`
	Data        string `xml:"data,attr"`
}

// FSGateway is a sofia <gateway>.
type FSGateway struct {
	Name      string       `xml:"name,attr"`
	Params    []FSParam    `xml:"param"`
	Variables []FSVariable `xml:"variables>variable"`
}

// FSVariable is a gateway <variable name= value= direction=/>.
type FSVariable struct {
	Name      string `xml:"name,attr"`
	Value     string `xml:"value,attr"`
	Direction string `xml:"direction,attr"`
}

// Param returns the value of the last gateway param called name.
func (g *FSGateway) Param(name string) (string, bool) {
	return lastParam(g.Params, name)
}

func lastParam(ps []FSParam, name string) (string, bool) {
	v, ok := "", false
	for _, p := range ps {
		if p.Name == name {
			v, ok = p.Value, true
		}
	}
	return v, ok
}

// ParseFSConfiguration reads a <configuration> document.
func ParseFSConfiguration(r io.Reader) (*FSConfiguration, error) {
	var c FSConfiguration
	if err := decodeStrict(r, &c); err != nil {
		return nil, fmt.Errorf("dialplan: freeswitch configuration: %w", err)
	}
	return &c, nil
}

// ParseFSInclude reads an <include> document (dialplan or gateways).
func ParseFSInclude(r io.Reader) (*FSInclude, error) {
	var c FSInclude
	if err := decodeStrict(r, &c); err != nil {
		return nil, fmt.Errorf("dialplan: freeswitch include: %w", err)
	}
	return &c, nil
}

func decodeStrict(r io.Reader, v any) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	return d.Decode(v)
}

// Context returns the named context.
func (c *FSInclude) Context(name string) (*FSContext, bool) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i], true
		}
	}
	return nil, false
}

// Gateway returns the named gateway.
func (c *FSInclude) Gateway(name string) (*FSGateway, bool) {
	for i := range c.Gateways {
		if c.Gateways[i].Name == name {
			return &c.Gateways[i], true
		}
	}
	return nil, false
}

// Hunt runs FreeSWITCH's XML dialplan hunt over extensions for a call with
// the given caller-profile fields and variables (destination_number,
// network_addr, ...; a condition field "${name}" reads fields["name"] too).
// The first extension whose conditions all match wins; its actions are
// returned with $1..$9 replaced by that condition's captures.
// Expressions are compiled with Go's regexp (RE2), which accepts the
// PCRE subset vnum's dialplans use.
func Hunt(extensions []FSExtension, fields map[string]string) (*FSExtension, []FSAction, error) {
	for i := range extensions {
		ext := &extensions[i]
		var actions []FSAction
		matched := true
		for _, cond := range ext.Conditions {
			captures, ok, err := cond.match(fields)
			if err != nil {
				return nil, nil, fmt.Errorf("dialplan: extension %s: %w", ext.Name, err)
			}
			if !ok {
				matched = false
				break
			}
			for _, a := range cond.Actions {
				a.Data = expandCaptures(a.Data, captures)
				actions = append(actions, a)
			}
		}
		if matched {
			return ext, actions, nil
		}
	}
	return nil, nil, ErrNoMatch
}

// Hunt runs Hunt over the context's extensions.
func (c *FSContext) Hunt(fields map[string]string) (*FSExtension, []FSAction, error) {
	return Hunt(c.Extensions, fields)
}

func (c FSCondition) match(fields map[string]string) ([]string, bool, error) {
	if c.Field == "" && c.Expression == "" {
		return nil, true, nil
	}
	name := c.Field
	if strings.HasPrefix(name, "${") && strings.HasSuffix(name, "}") {
		name = name[2 : len(name)-1]
	}
	re, err := regexp.Compile(c.Expression)
	if err != nil {
		return nil, false, fmt.Errorf("expression %q: %w", c.Expression, err)
	}
	m := re.FindStringSubmatch(fields[name])
	return m, m != nil, nil
}

func expandCaptures(s string, captures []string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] >= '1' && s[i+1] <= '9' {
			n, _ := strconv.Atoi(s[i+1 : i+2])
			if n < len(captures) {
				b.WriteString(captures[n])
			}
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
