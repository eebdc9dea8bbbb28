// Package redisstore keeps vnum's routing state in Redis (one server,
// Sentinel or Cluster, through go-redis's UniversalClient) and runs the
// routing decision in one round trip.
//
// Key schema (also in the README). Every key of one number carries the
// number as its hash tag, so they share a Cluster slot and a number changes
// atomically:
//
//	vnum:{DID}:num            hash    spec (JSON), max_concurrent, daily_minutes, allow_only, expires_ms, state
//	vnum:{DID}:block          hash    pattern -> "<expires_ms>|<entry JSON>" (0 = no expiry)
//	vnum:{DID}:allow          hash    pattern -> "<expires_ms>|<entry JSON>"
//	vnum:{DID}:slots          zset    call id -> lease deadline (ms); key TTL = lease
//	vnum:{DID}:min:YYYYMMDD   string  forwarded seconds that UTC day; TTL 48 h
//	vnum:{DID}:ivr            string  the IVR menu (JSON), set with the spec's ivr flag (ivr.go)
//	vnum:{DID}:sess           hash    proxy number's sessions: participant -> "<expires_ms>|<session id>|<confirm 1/0>|<participants, comma-separated>",
//	                                  and "!closing" -> token while the number goes back to its pool; TTL = last session's end + 1 h
//	vnum:{global}:block       hash    global blocklist, same encoding
//	vnum:call:{ID}            hash    live call registry; TTL refreshed while the call lives
//	vnum:cdr                  stream  call detail records; trimmed by count and age
//	vnum:session:{ID}         hash    masked session: pool, proxy, participants, created_ms, expires_ms, confirm; TTL = end + 1 h
//	vnum:pool:{NAME}:sessions zset    the pool's open sessions: id -> expires_ms (Sweep closes the due ones)
//	vnum:pool:{NAME}:proxies  set     the pool's numbers serving sessions now (reused before a free one is taken)
package redisstore

import "time"

const globalTag = "{global}"

func numKey(did string) string   { return "vnum:{" + did + "}:num" }
func blockKey(did string) string { return "vnum:{" + did + "}:block" }
func allowKey(did string) string { return "vnum:{" + did + "}:allow" }
func slotsKey(did string) string { return "vnum:{" + did + "}:slots" }
func sessKey(did string) string  { return "vnum:{" + did + "}:sess" }
func minutesKey(did string, at time.Time) string {
	return "vnum:{" + did + "}:min:" + at.UTC().Format("20060102")
}
func globalBlockKey() string      { return "vnum:" + globalTag + ":block" }
func callKey(id string) string    { return "vnum:call:{" + id + "}" }
func nodeChannel(n string) string { return "vnum:node:" + n + ":ctl" }

const (
	numPattern  = "vnum:{*}:num"
	callPattern = "vnum:call:{*}"
	cdrKey      = "vnum:cdr"
)

// didFromNumKey extracts the DID from a vnum:{DID}:num key.
func didFromNumKey(k string) string {
	const pre, suf = "vnum:{", "}:num"
	if len(k) <= len(pre)+len(suf) {
		return ""
	}
	return k[len(pre) : len(k)-len(suf)]
}
