#!/usr/bin/env bash
# provision-check: proves the Ansible side of vnum on this machine.
#
#  1. ansible-playbook --syntax-check and ansible-lint on site.yml and roles/;
#  2. a real converge of the redis, vnumd, asterisk and freeswitch roles
#     against a throwaway Debian bookworm (debootstrap --variant=minbase)
#     reached through Ansible's community.general.chroot connection, with
#     vnum_manage_services=false (nothing can start in a chroot; packages,
#     users, files and units are applied for real);
#  3. every converge run twice: the second run must report changed=0;
#  4. no secret in Ansible's output (runs use --diff), and every file of the
#     target that holds a secret is mode 0600 or narrower;
#  5. the rendered Redis configuration really loads: redis-server is started
#     from the target's own binary and config on a free loopback port and must
#     refuse unauthenticated clients, answer with the password, run AOF.
#
# Environment:
#   VNUM_PROVISION_CACHE   directory caching the debootstrap tree (default: a
#                          temp dir, removed at exit). Reuse it to skip the
#                          ~40 s debootstrap.
#   VNUM_DEBIAN_MIRROR     Debian mirror for debootstrap (default: the one in
#                          this machine's /etc/apt/sources.list*).
#   VNUM_PROVISION_KEEP    non-empty: keep the work dir (target, logs) at exit.
#   VNUMD_BINARY           vnumd binary to install (default: built with
#                          go build ./cmd/vnumd when possible, else a clearly
#                          named placeholder).
# Needs root (debootstrap, chroot); installs ansible, ansible-lint and
# debootstrap with apt-get when they are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
start=$(date +%s)

log() { printf '[provision-check %3ss] %s\n' "$(($(date +%s) - start))" "$*"; }
die() { printf '[provision-check] FAIL: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		exec sudo -n --preserve-env=VNUM_PROVISION_CACHE,VNUM_DEBIAN_MIRROR,VNUMD_BINARY,CI,PATH "$0" "$@"
	fi
	die "must run as root (debootstrap and chroot need it)"
fi

# --- tools ------------------------------------------------------------------
need=()
command -v ansible-playbook >/dev/null || need+=(ansible)
command -v ansible-lint >/dev/null || need+=(ansible-lint)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ "${#need[@]}" -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]}"
fi

work="$(mktemp -d /tmp/vnum-provision.XXXXXX)"
target="$work/target"
redis_pid=""
cleanup() {
	if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	if [ -n "${VNUM_PROVISION_KEEP:-}" ]; then
		echo "[provision-check] kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

cache="${VNUM_PROVISION_CACHE:-$work/cache}"
mkdir -p "$cache"

export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_HOME="$work/ansible-home"
cd "$here"

# --- 1. syntax and lint -----------------------------------------------------
log "ansible-playbook --syntax-check"
ansible-playbook -i inventories/example site.yml --syntax-check >/dev/null
log "ansible-lint"
ansible-lint --offline >"$work/lint.log" 2>&1 || { cat "$work/lint.log"; die "ansible-lint"; }

# --- 2. the throwaway target --------------------------------------------------
mirror="${VNUM_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
	# the first Debian archive URI this machine's apt uses for bookworm itself
	mirror="$(awk '
		/^deb / && $3 == "bookworm" { print $2; exit }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
		/^$/ { uri = "" }
	' $(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null) </dev/null || true)"
fi
[ -n "$mirror" ] || die "no Debian bookworm mirror in /etc/apt/sources.list*; set VNUM_DEBIAN_MIRROR"

tarball="$cache/bookworm-minbase-python3.tar"
if [ ! -s "$tarball" ]; then
	log "debootstrap bookworm from $mirror"
	rm -rf "$cache/root.tmp"
	debootstrap --variant=minbase --include=python3 bookworm "$cache/root.tmp" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log"; die "debootstrap"; }
	tar -C "$cache/root.tmp" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$cache/root.tmp"
fi
log "unpacking a fresh target"
mkdir -p "$target"
tar -C "$target" -xf "$tarball"
# What a real host has and a bare chroot lacks: name resolution, and no
# service may be started by package scripts (policy-rc.d, exit 101).
cp /etc/resolv.conf "$target/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d"
chmod 0755 "$target/usr/sbin/policy-rc.d"
# "The PBX is assumed installed": stand-ins for the Asterisk and FreeSWITCH
# packages' users and configuration directories.
chroot "$target" /bin/sh -ec '
	for u in asterisk freeswitch; do
		getent group "$u" >/dev/null || groupadd --system "$u"
		getent passwd "$u" >/dev/null || useradd --system --gid "$u" --no-create-home --shell /usr/sbin/nologin "$u"
	done
	install -d -o asterisk -g asterisk -m 0750 /etc/asterisk
	install -d -o freeswitch -g freeswitch -m 0750 /etc/freeswitch
'

# --- the vnumd binary -------------------------------------------------------
binary="${VNUMD_BINARY:-}"
if [ -z "$binary" ]; then
	if command -v go >/dev/null && [ -d "$repo/cmd/vnumd" ] &&
		(cd "$repo" && go build -o "$work/vnumd" ./cmd/vnumd) >"$work/go-build.log" 2>&1; then
		binary="$work/vnumd"
		log "built vnumd from ./cmd/vnumd"
	else
		binary="$work/vnumd-PLACEHOLDER-not-built"
		printf '#!/bin/sh\necho "vnumd placeholder installed by provision-check: not a real build" >&2\nexit 1\n' >"$binary"
		chmod 0755 "$binary"
		log "using a placeholder vnumd (./cmd/vnumd missing or not buildable)"
	fi
fi

# --- secrets: random per run, so they can be searched for ----------------
rand() { head -c 18 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '._'; }
redis_pw="redis-$(rand)"
ari_pw="ari-$(rand)"
esl_pw="esl-$(rand)"
trunk_pw="trunk-$(rand)"

cat >"$work/inventory.yml" <<EOF
all:
  vars:
    ansible_connection: community.general.chroot
    ansible_host: $target
    ansible_python_interpreter: /usr/bin/python3
    vnum_manage_services: false
    vnumd_binary_src: $binary
    vnum_carrier_host: sip.carrier.example
    vnum_carrier_ips: [192.0.2.10, 192.0.2.11]
    vnum_carrier_username: vnum-trunk
    vnum_carrier_password: $trunk_pw
    vnum_default_region: FR
    vnum_redis_password: $redis_pw
    vnum_ari_password: $ari_pw
    vnum_esl_password: $esl_pw
  children:
    redis:
      hosts:
        target:
    vnum:
      hosts:
        target:
EOF

# converge NAME EXTRA-ARGS...: two runs; the second must change nothing.
converge() {
	local name="$1"
	shift
	local run
	for run in 1 2; do
		log "converge $name, run $run"
		if ! ansible-playbook -i "$work/inventory.yml" site.yml --diff "$@" >"$work/$name.$run.log" 2>&1; then
			tail -n 60 "$work/$name.$run.log"
			die "converge $name run $run failed"
		fi
		local recap
		recap="$(grep -E '^target +:' "$work/$name.$run.log" || true)"
		log "  $recap"
		case "$recap" in
		*" failed=0 "*) ;;
		*) die "converge $name run $run: $recap" ;;
		esac
		if [ "$run" = 2 ]; then
			case "$recap" in
			*" changed=0 "*) ;;
			*)
				grep -E '^(TASK|changed:)' "$work/$name.2.log" | grep -B1 '^changed:' || true
				die "converge $name: the second run changed something"
				;;
			esac
		fi
	done
}

converge asterisk -e vnum_pbx=asterisk
converge freeswitch -e vnum_pbx=freeswitch

# --- 4. secrets: not in the output, not in wide files ---------------------
log "checking that no secret reached Ansible's output"
for s in "$redis_pw" "$ari_pw" "$esl_pw" "$trunk_pw"; do
	if grep -l -F -- "$s" "$work"/*.log; then
		die "a secret appears in Ansible's output (file named above)"
	fi
done
log "checking the modes of files holding secrets"
found=0
while IFS= read -r -d '' f; do
	found=$((found + 1))
	mode="$(stat -c '%a' "$f")"
	case "$mode" in
	600 | 400) ;;
	*) die "$f holds a secret with mode $mode" ;;
	esac
done < <(grep -rlZ -F -e "$redis_pw" -e "$ari_pw" -e "$esl_pw" -e "$trunk_pw" \
	"$target/etc" "$target/root" "$target/var/lib/vnum" 2>/dev/null || true)
[ "$found" -ge 5 ] || die "expected at least 5 files holding secrets in the target, found $found"
log "  $found files hold secrets, all 0600"
[ "$(chroot "$target" stat -c "%U %a" /etc/vnum/redis.password)" = "vnum 600" ] || die "/etc/vnum/redis.password is not vnum 0600"
grep -q -F "$ari_pw" "$target/etc/asterisk/ari.conf" && die "ari.conf holds the clear ARI password"

# --- the systemd unit -------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	log "systemd-analyze verify vnumd.service"
	cp "$target/etc/systemd/system/vnumd.service" "$work/vnumd.service"
	sed -i "s#^ExecStart=[^ ]*#ExecStart=/bin/true#; s#^EnvironmentFile=.*#EnvironmentFile=-/dev/null#" "$work/vnumd.service"
	if ! systemd-analyze verify "$work/vnumd.service" >"$work/verify.log" 2>&1; then
		cat "$work/verify.log"
		die "systemd-analyze verify vnumd.service"
	fi
	if grep -v -e 'Failed to .*cgroup' -e 'not running' "$work/verify.log" | grep -q .; then
		cat "$work/verify.log"
		die "systemd-analyze verify vnumd.service reported problems"
	fi
fi

# --- 5. the rendered Redis configuration really works ----------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log "starting the target's redis-server with its rendered config on 127.0.0.1:$port"
install -d -o "$(chroot "$target" id -u redis)" -g "$(chroot "$target" id -g redis)" "$target/run/redis"
chroot "$target" /usr/sbin/runuser -u redis -- /usr/bin/redis-server /etc/redis/redis.conf \
	--port "$port" --daemonize no --supervised no --logfile '' >"$work/redis.log" 2>&1 &
redis_pid=$!
rcli() { REDISCLI_AUTH="$redis_pw" redis-cli -h 127.0.0.1 -p "$port" "$@"; }
for _ in $(seq 1 50); do
	[ "$(rcli ping 2>/dev/null)" = PONG ] && break
	kill -0 "$redis_pid" 2>/dev/null || { cat "$work/redis.log"; die "redis-server exited"; }
	sleep 0.1
done
[ "$(rcli ping)" = PONG ] || die "redis-server does not answer PING with the password"
case "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>&1)" in
*NOAUTH*) ;;
*) die "redis-server answers without the password" ;;
esac
[ "$(rcli config get appendonly | tail -n1)" = yes ] || die "AOF is off"
[ "$(rcli config get protected-mode | tail -n1)" = yes ] || die "protected-mode is off"
[ "$(rcli config get bind | tail -n1)" = "127.0.0.1 -::1" ] || die "unexpected bind: $(rcli config get bind | tail -n1)"
rcli shutdown nosave >/dev/null 2>&1 || true
wait "$redis_pid" 2>/dev/null || true
redis_pid=""

log "OK in $(($(date +%s) - start)) s"
