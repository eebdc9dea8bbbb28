package dialplan_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/dialplan"
)

// These tests render dialplan/ through the real Ansible roles (asterisk,
// freeswitch, vnumd) into a temporary directory, then read the PBX files the
// way the PBX would and check that they agree with what vnumd is told in
// vnumd.env and its secret files.

// ansiblePlaybook finds ansible-playbook; without it the test fails under
// CI=true and is skipped elsewhere.
func ansiblePlaybook(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-playbook")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ansible-playbook not found (install the Debian package ansible): %v", err)
		}
		t.Skip("ansible-playbook not installed")
	}
	return p
}

func secret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// scenario is one play: a PBX, a fallback, and where its files go.
type scenario struct {
	name     string // also the inventory host name
	pbx      string // asterisk | freeswitch
	fallback string
	dir      string
	extra    map[string]any // variables that override the defaults below
}

const (
	testApp      = "vnumtest"
	testARIUser  = "vnumari"
	testARIURL   = "http://127.0.0.1:18088/ari"
	testESLAddr  = "127.0.0.1:18021"
	testDelay    = 7
	testRing     = 25
	testMailbox  = "4242@vnum"
	testForward  = "+33612345678"
	carrierHost  = "sip.carrier.test"
	carrierIP1   = "192.0.2.10"
	carrierIP2   = "192.0.2.11"
	testDID      = "+14155550100"
	testDIDLocal = "14155550100"
)

var carrierIPs = []string{carrierIP1, carrierIP2}

type secrets struct{ redis, ari, esl, trunk string }

func (s secrets) all() []string { return []string{s.redis, s.ari, s.esl, s.trunk} }

// render runs one ansible-playbook over an inventory with one host (a
// local connection) per scenario, so the scenarios converge in parallel,
// and returns its combined output.
func render(t *testing.T, scenarios []scenario, sec secrets) (string, error) {
	t.Helper()
	playbook := ansiblePlaybook(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "vnumd-placeholder")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]map[string]any{}
	for _, sc := range scenarios {
		for _, d := range []string{"pbx", "etc", "home", "bin", "unit"} {
			if err := os.MkdirAll(filepath.Join(sc.dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		vars := map[string]any{
			"ansible_connection":          "local",
			"ansible_python_interpreter":  "{{ ansible_playbook_python }}",
			"vnum_manage_services":        false,
			"vnum_pbx":                    sc.pbx,
			"vnum_app":                    testApp,
			"vnum_ari_user":               testARIUser,
			"vnum_ari_url":                testARIURL,
			"vnum_esl_addr":               testESLAddr,
			"vnum_redis_password":         sec.redis,
			"vnum_ari_password":           sec.ari,
			"vnum_esl_password":           sec.esl,
			"vnum_carrier_host":           carrierHost,
			"vnum_carrier_ips":            carrierIPs,
			"vnum_carrier_username":       "vnum-trunk",
			"vnum_carrier_password":       sec.trunk,
			"vnum_fallback":               sc.fallback,
			"vnum_fallback_delay":         testDelay,
			"vnum_fallback_ring_timeout":  testRing,
			"vnum_voicemail_mailbox":      testMailbox,
			"vnum_default_region":         "FR",
			"vnum_asterisk_config_dir":    filepath.Join(sc.dir, "pbx"),
			"vnum_asterisk_user":          u.Username,
			"vnum_asterisk_group":         g.Name,
			"vnum_asterisk_pjsip_include": "",
			"vnum_freeswitch_config_dir":  filepath.Join(sc.dir, "pbx"),
			"vnum_freeswitch_user":        u.Username,
			"vnum_freeswitch_group":       g.Name,
			"vnum_freeswitch_fs_cli_conf": "",
			"vnumd_binary_src":            bin,
			"vnumd_binary_path":           filepath.Join(sc.dir, "bin", "vnumd"),
			"vnumd_create_user":           false,
			"vnumd_root_user":             u.Username,
			"vnumd_root_group":            g.Name,
			"vnumd_user":                  u.Username,
			"vnumd_group":                 g.Name,
			"vnumd_home":                  filepath.Join(sc.dir, "home"),
			"vnumd_config_dir":            filepath.Join(sc.dir, "etc"),
			"vnumd_unit_path":             filepath.Join(sc.dir, "unit", "vnumd.service"),
		}
		for k, v := range sc.extra {
			vars[k] = v
		}
		hosts[sc.name] = vars
	}
	inventory := map[string]any{"vnum": map[string]any{"hosts": hosts}}
	// The same play as site.yml's.
	plays := []map[string]any{{
		"name":         "render",
		"hosts":        "vnum",
		"gather_facts": false,
		"roles": []map[string]any{
			{"role": "asterisk", "when": "vnum_pbx == 'asterisk'"},
			{"role": "freeswitch", "when": "vnum_pbx == 'freeswitch'"},
			{"role": "vnumd"},
		},
	}}
	invPath := filepath.Join(work, "inventory.json")
	pbPath := filepath.Join(work, "render.yml")
	for path, v := range map[string]any{invPath: inventory, pbPath: plays} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --diff and -v: a secret must not show even when Ansible shows the most.
	cmd := exec.CommandContext(ctx, playbook, "-i", invPath, "--diff", "-v", pbPath)
	cmd.Env = append(os.Environ(),
		"ANSIBLE_ROLES_PATH="+filepath.Join(root, "ansible", "roles"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_LOCALHOST_WARNING=false",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		"ANSIBLE_RETRY_FILES_ENABLED=false",
		"ANSIBLE_PIPELINING=true",
		"ANSIBLE_FORKS=8",
		"ANSIBLE_HOME="+filepath.Join(work, "ansible-home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(work, "ansible-tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(work, "ansible-remote-tmp"),
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRenderedConfigAgreesWithVnumd(t *testing.T) {
	base := t.TempDir()
	sec := secrets{redis: secret(t, "redis"), ari: secret(t, "ari"), esl: secret(t, "esl"), trunk: secret(t, "trunk")}
	var scenarios []scenario
	for _, pbx := range []string{"asterisk", "freeswitch"} {
		for _, fb := range []string{"busy", "voicemail", "forward:" + testForward} {
			name := pbx + "-" + strings.SplitN(fb, ":", 2)[0]
			scenarios = append(scenarios, scenario{name: name, pbx: pbx, fallback: fb, dir: filepath.Join(base, name)})
		}
	}
	start := time.Now()
	out, err := render(t, scenarios, sec)
	if err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	t.Logf("rendered %d scenarios in %v", len(scenarios), time.Since(start).Round(time.Millisecond))
	for _, s := range sec.all() {
		if strings.Contains(out, s) {
			t.Fatalf("a secret (%.5s...) appears in Ansible's output", s)
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			env := readEnv(t, filepath.Join(sc.dir, "etc", "vnumd.env"))
			checkSecretFiles(t, sc, sec)
			checkUnit(t, sc)
			if sc.pbx == "asterisk" {
				checkAsterisk(t, sc, env, sec)
			} else {
				checkFreeSWITCH(t, sc, env, sec)
			}
		})
	}
}

// readEnv parses the systemd EnvironmentFile the role writes (KEY="value").
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		uq, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("%s: %s not quoted: %v", path, k, err)
		}
		env[k] = uq
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

func readSecret(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// checkSecretFiles: every rendered file is 0600 or narrower, and a secret
// appears only in the files that must hold it.
func checkSecretFiles(t *testing.T, sc scenario, sec secrets) {
	t.Helper()
	err := filepath.WalkDir(sc.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) == "bin" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range sec.all() {
			if strings.Contains(string(b), s) && info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s holds a secret with mode %v", p, info.Mode().Perm())
			}
		}
		if strings.Contains(string(b), sec.ari) && filepath.Base(p) != "ari.password" {
			t.Errorf("%s holds the clear ARI password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseConfFile(t *testing.T, path string) *dialplan.Conf {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := dialplan.ParseConf(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func one(t *testing.T, c *dialplan.Conf, name string) *dialplan.Section {
	t.Helper()
	s := c.Find(name)
	if len(s) == 0 {
		t.Fatalf("no [%s] section", name)
	}
	return s[0]
}

func get(t *testing.T, c *dialplan.Conf, s *dialplan.Section, key string) string {
	t.Helper()
	v, ok := c.Get(s, key)
	if !ok {
		t.Errorf("[%s] has no %s", s.Name, key)
	}
	return v
}

func checkAsterisk(t *testing.T, sc scenario, env map[string]string, sec secrets) {
	pbx := filepath.Join(sc.dir, "pbx")

	// http.conf: ARI where vnumd looks for it, on loopback only.
	ariURL, err := url.Parse(env["VNUM_ARI_URL"])
	if err != nil || env["VNUM_ARI_URL"] != testARIURL {
		t.Fatalf("VNUM_ARI_URL = %q (%v)", env["VNUM_ARI_URL"], err)
	}
	http := parseConfFile(t, filepath.Join(pbx, "http.conf"))
	gen := one(t, http, "general")
	if get(t, http, gen, "enabled") != "yes" {
		t.Error("http.conf: HTTP server not enabled: ARI unreachable")
	}
	bind := get(t, http, gen, "bindaddr")
	if bind != ariURL.Hostname() || !loopback(bind) {
		t.Errorf("http.conf bindaddr = %q, vnumd dials %q; must be that loopback address", bind, ariURL.Hostname())
	}
	if port := get(t, http, gen, "bindport"); port != ariURL.Port() {
		t.Errorf("http.conf bindport = %q, vnumd dials port %q", port, ariURL.Port())
	}
	if _, ok := http.Get(gen, "prefix"); ok {
		t.Error("http.conf has a prefix, but VNUM_ARI_URL's path is /ari")
	}

	// ari.conf: the user vnumd logs in as, with the password from its file.
	ari := parseConfFile(t, filepath.Join(pbx, "ari.conf"))
	if get(t, ari, one(t, ari, "general"), "enabled") != "yes" {
		t.Error("ari.conf: ARI not enabled")
	}
	if env["VNUM_ARI_USER"] != testARIUser {
		t.Errorf("VNUM_ARI_USER = %q", env["VNUM_ARI_USER"])
	}
	users := ari.OfType("user")
	if len(users) != 1 || users[0].Name != env["VNUM_ARI_USER"] {
		t.Fatalf("ari.conf users = %v, want exactly [%s]", names(users), env["VNUM_ARI_USER"])
	}
	if f := get(t, ari, users[0], "password_format"); f != "crypt" {
		t.Errorf("password_format = %q, want crypt", f)
	}
	pw := readSecret(t, env["VNUM_ARI_PASSWORD_FILE"])
	if pw != sec.ari {
		t.Errorf("VNUM_ARI_PASSWORD_FILE holds the wrong password")
	}
	hash := get(t, ari, users[0], "password")
	if ok, err := sha512CryptVerify(pw, hash); err != nil || !ok {
		t.Errorf("ari.conf hash does not verify vnumd's ARI password (%v)", err)
	}
	if strings.Contains(hash, "rounds=") {
		t.Errorf("ari.conf hash uses custom rounds (%.20s...): crypt() runs on every ARI request", hash)
	}

	// pjsip.conf: the trunk of VNUM_TRUNK, identified by IP, no identity headers.
	pj := parseConfFile(t, filepath.Join(pbx, "pjsip.conf"))
	trunk := env["VNUM_TRUNK"]
	endpointName, ok := strings.CutPrefix(trunk, "PJSIP/{e164}@")
	if !ok {
		t.Fatalf("VNUM_TRUNK = %q, want PJSIP/{e164}@<endpoint>", trunk)
	}
	endpoints := map[string]*dialplan.Section{}
	for _, s := range pj.OfType("endpoint") {
		endpoints[s.Name] = s
		// Masking: no header that could carry the real caller (or callee).
		for key, want := range map[string]string{
			"send_pai": "no", "send_rpid": "no", "send_diversion": "no",
			"trust_id_outbound": "no", "send_connected_line": "no", "identify_by": "ip",
		} {
			if v, _ := pj.Get(s, key); v != want {
				t.Errorf("endpoint %s: %s = %q, want %s", s.Name, key, v, want)
			}
		}
	}
	ep, ok := endpoints[endpointName]
	if !ok {
		t.Fatalf("VNUM_TRUNK names endpoint %q, pjsip.conf has %v", endpointName, keys(endpoints))
	}
	sipEndpoint := strings.TrimSuffix(strings.TrimPrefix(env["VNUM_SIP_TEMPLATE"], "PJSIP/"), "/{uri}")
	if _, ok := endpoints[sipEndpoint]; !ok {
		t.Errorf("VNUM_SIP_TEMPLATE = %q names no endpoint of pjsip.conf", env["VNUM_SIP_TEMPLATE"])
	}
	var identified []string
	for _, s := range pj.OfType("identify") {
		if v, _ := pj.Get(s, "endpoint"); v == endpointName {
			identified = append(identified, pj.All(s, "match")...)
		}
		if v, _ := pj.Get(s, "endpoint"); v == sipEndpoint {
			t.Errorf("the sip: URI endpoint %s accepts inbound calls", sipEndpoint)
		}
	}
	if !slices.Equal(identified, carrierIPs) {
		t.Errorf("carrier identified by %v, want %v", identified, carrierIPs)
	}
	inbound := get(t, pj, ep, "context")

	// extensions.conf: every DID to Stasis(VNUM_APP,<DID>), with a fallback.
	ext := parseConfFile(t, filepath.Join(pbx, "extensions.conf"))
	d, err := dialplan.NewDialplan(ext)
	if err != nil {
		t.Fatal(err)
	}
	if env["VNUM_APP"] != testApp || env["VNUM_FALLBACK"] != sc.fallback {
		t.Errorf("vnumd.env: VNUM_APP=%q VNUM_FALLBACK=%q", env["VNUM_APP"], env["VNUM_FALLBACK"])
	}
	for _, did := range []string{testDID, testDIDLocal} {
		checkAsteriskCall(t, d, sc, env, inbound, did)
	}

	// The outbound context for the trunk: E.164 only.
	var dialed []string
	dial := map[string]dialplan.AppFunc{"Dial": func(ch *dialplan.Channel, args []string) bool {
		dialed = append(dialed, args[0])
		ch.Vars["DIALSTATUS"] = "ANSWER"
		return false
	}}
	if _, err := d.Simulate("vnum-outbound", testForward, &dialplan.Channel{}, dial); err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(trunk, "{e164}", testForward); !slices.Equal(dialed, []string{want}) {
		t.Errorf("vnum-outbound %s dialed %v, want [%s]", testForward, dialed, want)
	}
	for _, bad := range []string{"112", "+0123456789", "+3312"} {
		dialed = nil
		trace, err := d.Simulate("vnum-outbound", bad, &dialplan.Channel{}, dial)
		if err != nil {
			t.Fatal(err)
		}
		if len(dialed) != 0 || trace[len(trace)-1].App != "Hangup" {
			t.Errorf("vnum-outbound %s: dialed %v, trace %v; want refused", bad, dialed, apps(trace))
		}
	}
}

// checkAsteriskCall follows a call to did through the inbound context with
// vnumd away (STASISSTATUS=FAILED) and present (SUCCESS).
func checkAsteriskCall(t *testing.T, d *dialplan.Dialplan, sc scenario, env map[string]string, inbound, did string) {
	t.Helper()
	type dialCall struct{ target, callerNum, callerName string }
	var stasis [][]string
	var dials []dialCall
	var mailboxes []string
	run := func(stasisStatus, vmStatus, dialStatus string) []dialplan.Step {
		stasis, dials, mailboxes = nil, nil, nil
		trace, err := d.Simulate(inbound, did, &dialplan.Channel{}, map[string]dialplan.AppFunc{
			"Stasis": func(ch *dialplan.Channel, args []string) bool {
				stasis = append(stasis, args)
				ch.Vars["STASISSTATUS"] = stasisStatus
				return false
			},
			"VoiceMail": func(ch *dialplan.Channel, args []string) bool {
				mailboxes = append(mailboxes, args[0])
				ch.Vars["VMSTATUS"] = vmStatus
				return false
			},
			"Dial": func(ch *dialplan.Channel, args []string) bool {
				dials = append(dials, dialCall{args[0], ch.Var("CALLERID(num)"), ch.Var("CALLERID(name)")})
				ch.Vars["DIALSTATUS"] = dialStatus
				return false
			},
		})
		if err != nil {
			t.Fatalf("%s (STASISSTATUS=%s): %v\ntrace %v", did, stasisStatus, err, apps(trace))
		}
		return trace
	}

	// vnumd connected: the call goes to the app, with the DID, and nothing else runs.
	trace := run("SUCCESS", "", "")
	if len(stasis) != 1 || !slices.Equal(stasis[0], []string{env["VNUM_APP"], did}) {
		t.Errorf("%s: Stasis args = %v, want [%s %s]", did, stasis, env["VNUM_APP"], did)
	}
	if len(dials)+len(mailboxes) != 0 || trace[len(trace)-1].App != "Hangup" {
		t.Errorf("%s: after a successful Stasis the dialplan ran %v", did, apps(trace))
	}

	// vnumd away: never dead air, never a bare hangup (603): the fallback.
	kind, number, _ := strings.Cut(sc.fallback, ":")
	trace = run("FAILED", "SUCCESS", "ANSWER")
	last := trace[len(trace)-1]
	switch kind {
	case "busy":
		if last.App != "Busy" || len(dials)+len(mailboxes) != 0 {
			t.Errorf("%s busy fallback: trace %v", did, apps(trace))
		}
	case "voicemail":
		if !slices.Equal(mailboxes, []string{testMailbox}) {
			t.Errorf("%s voicemail fallback: mailboxes %v, want [%s]", did, mailboxes, testMailbox)
		}
		// a broken mailbox still ends in busy, not silence
		trace = run("FAILED", "FAILED", "")
		if len(mailboxes) != 1 {
			t.Fatalf("voicemail not tried")
		}
	case "forward":
		want := dialCall{strings.ReplaceAll(env["VNUM_TRUNK"], "{e164}", number), did, did}
		if len(dials) != 1 || dials[0] != want {
			t.Errorf("%s forward fallback: dials %+v, want [%+v] (caller ID masked to the DID)", did, dials, want)
		}
		trace = run("FAILED", "", "NOANSWER")
	}
	if kind != "busy" {
		// the fallback's own failure path
		if l := trace[len(trace)-1]; l.App != "Hangup" || !slices.Equal(l.Args, []string{"17"}) {
			if l.App != "Busy" {
				t.Errorf("%s %s fallback failing: ends in %s(%v), want busy", did, kind, l.App, l.Args)
			}
		}
		if !slices.Contains(apps(trace), "Busy") {
			t.Errorf("%s %s fallback failing: trace %v, want Busy", did, kind, apps(trace))
		}
	}
	if last.App == "Hangup" && len(last.Args) == 0 && kind == "busy" {
		t.Errorf("%s: bare Hangup() after a failed Stasis: the carrier gets 603", did)
	}
}

func checkFreeSWITCH(t *testing.T, sc scenario, env map[string]string, sec secrets) {
	pbx := filepath.Join(sc.dir, "pbx")

	// event_socket.conf.xml: where vnumd connects, with its password, loopback only.
	f, err := os.Open(filepath.Join(pbx, "autoload_configs", "event_socket.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	es, err := dialplan.ParseFSConfiguration(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if es.Name != "event_socket.conf" {
		t.Errorf("configuration name = %q", es.Name)
	}
	host, port, err := net.SplitHostPort(env["VNUM_ESL_ADDR"])
	if err != nil || env["VNUM_ESL_ADDR"] != testESLAddr {
		t.Fatalf("VNUM_ESL_ADDR = %q (%v)", env["VNUM_ESL_ADDR"], err)
	}
	if ip, _ := es.Param("listen-ip"); ip != host || !loopback(ip) {
		t.Errorf("listen-ip = %q, vnumd dials %q; must be that loopback address", ip, host)
	}
	if p, _ := es.Param("listen-port"); p != port {
		t.Errorf("listen-port = %q, vnumd dials %q", p, port)
	}
	pw, _ := es.Param("password")
	if pw != readSecret(t, env["VNUM_ESL_PASSWORD_FILE"]) || pw != sec.esl {
		t.Error("ESL password differs from vnumd's VNUM_ESL_PASSWORD_FILE")
	}
	if pw == "ClueCon" {
		t.Error("ESL password is FreeSWITCH's default")
	}
	if acl, _ := es.Param("apply-inbound-acl"); acl != "loopback.auto" {
		t.Errorf("apply-inbound-acl = %q, want loopback.auto", acl)
	}

	inc := parseFSInclude(t, filepath.Join(pbx, "dialplan", "vnum.xml"))
	inbound, ok := inc.Context("vnum_inbound")
	if !ok {
		t.Fatal("no vnum_inbound context")
	}
	for _, did := range []string{testDID, testDIDLocal} {
		_, actions, err := inbound.Hunt(map[string]string{"destination_number": did})
		if err != nil {
			t.Fatalf("%s: %v", did, err)
		}
		// Inbound ESL mode: the variables vnumd reads, the scheduled
		// fallback, then park (last).
		idx := func(app, data string) int {
			return slices.IndexFunc(actions, func(a dialplan.FSAction) bool { return a.Application == app && (data == "" || a.Data == data) })
		}
		park := idx("park", "")
		if park != len(actions)-1 {
			t.Fatalf("%s: park is not the last action: %+v", did, actions)
		}
		for _, want := range []dialplan.FSAction{
			{Application: "set", Data: "vnum_did=${destination_number}"},
			{Application: "set", Data: "vnum_mode=inbound_esl"},
			{Application: "export", Data: "sip_cid_type=none"},
		} {
			if i := idx(want.Application, want.Data); i < 0 || i > park {
				t.Errorf("%s: missing %s %s before park", did, want.Application, want.Data)
			}
		}
		st := idx("sched_transfer", "")
		if st < 0 || st > park {
			t.Fatalf("%s: no sched_transfer before park: the call would sit parked forever with vnumd away", did)
		}
		fields := strings.Fields(actions[st].Data)
		if len(fields) != 4 || fields[0] != "+"+strconv.Itoa(testDelay) || fields[2] != "XML" {
			t.Fatalf("sched_transfer %q, want +%d <ext> XML <context>", actions[st].Data, testDelay)
		}
		checkFSFallback(t, sc, env, inc, fields[1], fields[3])
		checkNoIdentityHeaders(t, actions)
	}

	// The carrier's entry: identified by source address, to vnum_inbound.
	public := parseFSInclude(t, filepath.Join(pbx, "dialplan", "public", "00_vnum_carrier.xml"))
	for _, ip := range carrierIPs {
		_, actions, err := dialplan.Hunt(public.Extensions, map[string]string{"network_addr": ip, "destination_number": testDID})
		if err != nil {
			t.Fatalf("call from carrier %s: %v", ip, err)
		}
		if want := []dialplan.FSAction{{Application: "transfer", Data: testDID + " XML vnum_inbound"}}; !slices.Equal(actions, want) {
			t.Errorf("carrier entry actions %+v, want %+v", actions, want)
		}
	}
	if _, _, err := dialplan.Hunt(public.Extensions, map[string]string{"network_addr": "198.51.100.7", "destination_number": testDID}); err == nil {
		t.Error("a call from a non-carrier address reaches vnum_inbound")
	}

	// The gateway of VNUM_TRUNK: no RPID/PAI towards the carrier.
	name, ok := strings.CutPrefix(env["VNUM_TRUNK"], "sofia/gateway/")
	name, ok2 := strings.CutSuffix(name, "/{e164}")
	if !ok || !ok2 {
		t.Fatalf("VNUM_TRUNK = %q, want sofia/gateway/<name>/{e164}", env["VNUM_TRUNK"])
	}
	gws := parseFSInclude(t, filepath.Join(pbx, "sip_profiles", "external", "vnum_carrier.xml"))
	gw, ok := gws.Gateway(name)
	if !ok {
		t.Fatalf("no gateway %q", name)
	}
	if v, _ := gw.Param("proxy"); v != carrierHost+":5060" {
		t.Errorf("gateway proxy = %q", v)
	}
	if v, _ := gw.Param("caller-id-in-from"); v != "true" {
		t.Errorf("caller-id-in-from = %q: with sip_cid_type=none the DID must travel in From", v)
	}
	if v, _ := gw.Param("password"); v != sec.trunk {
		t.Error("gateway password differs from vnum_carrier_password")
	}
	if !slices.Contains(gw.Variables, dialplan.FSVariable{Name: "sip_cid_type", Value: "none", Direction: "outbound"}) {
		t.Errorf("gateway variables %+v lack outbound sip_cid_type=none", gw.Variables)
	}
}

func checkFSFallback(t *testing.T, sc scenario, env map[string]string, inc *dialplan.FSInclude, ext, ctxName string) {
	t.Helper()
	ctx, ok := inc.Context(ctxName)
	if !ok {
		t.Fatalf("sched_transfer targets context %q, which vnum.xml lacks", ctxName)
	}
	_, actions, err := ctx.Hunt(map[string]string{"destination_number": ext})
	if err != nil {
		t.Fatalf("fallback %s@%s: %v", ext, ctxName, err)
	}
	checkNoIdentityHeaders(t, actions)
	appsOf := make([]string, len(actions))
	for i, a := range actions {
		appsOf[i] = a.Application + " " + a.Data
	}
	last := actions[len(actions)-1]
	kind, number, _ := strings.Cut(sc.fallback, ":")
	switch kind {
	case "busy":
		if last != (dialplan.FSAction{Application: "hangup", Data: "USER_BUSY"}) || slices.ContainsFunc(actions, func(a dialplan.FSAction) bool { return a.Application == "bridge" }) {
			t.Errorf("busy fallback: %q", appsOf)
		}
	case "voicemail":
		i := slices.IndexFunc(actions, func(a dialplan.FSAction) bool { return a.Application == "voicemail" })
		if i < 0 || !strings.HasSuffix(actions[i].Data, " "+strings.Split(testMailbox, "@")[0]) {
			t.Errorf("voicemail fallback: %q", appsOf)
		}
	case "forward":
		i := slices.IndexFunc(actions, func(a dialplan.FSAction) bool { return a.Application == "bridge" })
		want := "{sip_cid_type=none}" + strings.ReplaceAll(env["VNUM_TRUNK"], "{e164}", number)
		if i < 0 || actions[i].Data != want {
			t.Fatalf("forward fallback: %q, want bridge %s", appsOf, want)
		}
		for _, v := range []string{"effective_caller_id_number=${vnum_did}", "effective_caller_id_name=${vnum_did}", "call_timeout=" + strconv.Itoa(testRing)} {
			if j := slices.Index(actions, dialplan.FSAction{Application: "set", Data: v}); j < 0 || j > i {
				t.Errorf("forward fallback: no set %s before the bridge", v)
			}
		}
		if last.Application != "hangup" {
			t.Errorf("forward fallback: a failed bridge ends in %q, want a hangup", appsOf[len(appsOf)-1])
		}
	}
}

// checkNoIdentityHeaders: no action puts an identity header on a leg.
func checkNoIdentityHeaders(t *testing.T, actions []dialplan.FSAction) {
	t.Helper()
	for _, a := range actions {
		if a.Application != "set" && a.Application != "export" {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(strings.SplitN(a.Data, "=", 2)[0], "nolocal:"))
		for _, h := range []string{"sip_h_p-asserted-identity", "sip_h_remote-party-id", "sip_h_diversion", "sip_h_p-preferred-identity"} {
			if name == h {
				t.Errorf("%s %s puts an identity header on the call", a.Application, a.Data)
			}
		}
		if name == "sip_cid_type" && !strings.HasSuffix(a.Data, "=none") {
			t.Errorf("%s %s: identity headers enabled", a.Application, a.Data)
		}
	}
}

func parseFSInclude(t *testing.T, path string) *dialplan.FSInclude {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inc, err := dialplan.ParseFSInclude(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return inc
}

func names(ss []*dialplan.Section) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The roles refuse configurations vnumd would refuse or that would expose
// a control port, before writing anything, and say why.
func TestRolesRefuseUnsafeSettings(t *testing.T) {
	ansiblePlaybook(t)
	cases := []struct {
		host  string
		pbx   string
		extra map[string]any
		want  string
	}{
		{"clucon", "freeswitch", map[string]any{"vnum_esl_password": "ClueCon"}, "never the default ClueCon"},
		{"ari-any", "asterisk", map[string]any{"vnum_ari_url": "http://0.0.0.0:8088/ari"}, "ARI and ESL never face the network"},
		{"esl-public", "freeswitch", map[string]any{"vnum_esl_addr": "203.0.113.5:8021"}, "ARI and ESL never face the network"},
		{"reject-fallback", "asterisk", map[string]any{"vnum_fallback": "reject"}, "vnum_fallback busy, voicemail or forward"},
		{"no-carrier-ips", "asterisk", map[string]any{"vnum_carrier_ips": []string{}}, "vnum_carrier_ips are required"},
	}
	sec := secrets{redis: secret(t, "redis"), ari: secret(t, "ari"), esl: secret(t, "esl"), trunk: secret(t, "trunk")}
	base := t.TempDir()
	var scenarios []scenario
	for _, tc := range cases {
		scenarios = append(scenarios, scenario{name: tc.host, pbx: tc.pbx, fallback: "busy", dir: filepath.Join(base, tc.host), extra: tc.extra})
	}
	out, err := render(t, scenarios, sec)
	if err == nil {
		t.Fatalf("the roles accepted every unsafe setting:\n%s", out)
	}
	for _, s := range sec.all() {
		if strings.Contains(out, s) {
			t.Errorf("a secret appears in the failure output")
		}
	}
	// One "fatal: [host]: FAILED! => {...}" line per refused host.
	fatal := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "fatal: ["); ok {
			host, msg, _ := strings.Cut(rest, "]")
			fatal[host] = strings.Join(strings.Fields(msg), " ")
		}
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			msg, ok := fatal[tc.host]
			if !ok {
				t.Fatalf("the role accepted it:\n%s", out)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("failure does not say %q: %s", tc.want, msg)
			}
			entries, _ := os.ReadDir(filepath.Join(base, tc.host, "pbx"))
			if len(entries) != 0 {
				t.Errorf("files were written before the check failed: %v", entries)
			}
		})
	}
}

// checkUnit: the systemd unit starts the right subcommand with the rendered
// environment, restarts on failure, comes after Redis, and is hardened.
func checkUnit(t *testing.T, sc scenario) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sc.dir, "unit", "vnumd.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit: bad line %q", line)
			}
			unit[section+"."+k] = append(unit[section+"."+k], v)
		}
	}
	want := map[string]string{
		"Service.ExecStart":       filepath.Join(sc.dir, "bin", "vnumd") + " " + sc.pbx,
		"Service.EnvironmentFile": filepath.Join(sc.dir, "etc", "vnumd.env"),
		"Service.Restart":         "on-failure",
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.PrivateTmp":      "yes",
		"Service.User":            mustUser(t),
	}
	for k, v := range want {
		if got := unit[k]; len(got) != 1 || got[0] != v {
			t.Errorf("unit %s = %q, want %q", k, got, v)
		}
	}
	after := strings.Fields(strings.Join(unit["Unit.After"], " "))
	for _, u := range []string{"redis-server.service", sc.pbx + ".service"} {
		if !slices.Contains(after, u) {
			t.Errorf("unit After=%v lacks %s", after, u)
		}
	}
}

func mustUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
