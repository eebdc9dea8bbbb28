package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// kindVoicemail is the Recording.Kind of a voicemail message.
const kindVoicemail = "voicemail"

// mailboxKey holds a number's voicemail settings: greeting, max_ms, and
// for (the number's creation time, from its spec): settings written for an
// earlier number with the same DID (removed, released, handed out again)
// are never applied to the new one.
func mailboxKey(did string) string { return "vnum:{" + did + "}:mailbox" }

// The mailbox scripts read the number's spec and the mailbox in one round
// trip. ARGV of both start with nothing; KEYS: number hash, mailbox hash.
const mailboxPrelude = `
local spec = redis.call('HGET', KEYS[1], 'spec')
if not spec then return false end
local ok, n = pcall(cjson.decode, spec)
local created = ''
if ok and type(n) == 'table' and type(n.created) == 'string' then created = n.created end
`

// getMailboxScript returns {greeting, max_ms} ("" when unset), or nil when
// the number does not exist.
var getMailboxScript = redis.NewScript(mailboxPrelude + `
local m = redis.call('HMGET', KEYS[2], 'for', 'greeting', 'max_ms')
if m[1] ~= created then return {'', ''} end
return {m[2] or '', m[3] or ''}
`)

// updateMailboxScript changes some fields and returns the result like
// getMailboxScript. ARGV: greeting given (0/1), greeting ("" unsets),
// max given (0/1), max_ms ("" unsets). A mailbox back to every default is
// deleted.
var updateMailboxScript = redis.NewScript(mailboxPrelude + `
if redis.call('HGET', KEYS[2], 'for') ~= created then redis.call('DEL', KEYS[2]) end
local function put(given, field, v)
  if given ~= '1' then return end
  if v == '' then redis.call('HDEL', KEYS[2], field) else redis.call('HSET', KEYS[2], field, v) end
end
put(ARGV[1], 'greeting', ARGV[2])
put(ARGV[3], 'max_ms', ARGV[4])
local m = redis.call('HMGET', KEYS[2], 'greeting', 'max_ms')
if not m[1] and not m[2] then
  redis.call('DEL', KEYS[2])
  return {'', ''}
end
redis.call('HSET', KEYS[2], 'for', created)
return {m[1] or '', m[2] or ''}
`)

// MailboxChange changes some of a mailbox's settings; nil fields stay as
// they are.
type MailboxChange struct {
	// Greeting: "sound:NAME", "file:NAME", or "" for the default prompt.
	Greeting *string
	// MaxMessage: 1 s to 10 min in whole seconds, or 0 for the default.
	MaxMessage *time.Duration
}

// GetMailbox returns a number's voicemail settings, routing.DefaultMailbox
// for what was never set; ErrNotFound naming the DID when the number does
// not exist. One round trip.
func (s *Store) GetMailbox(ctx context.Context, did string) (routing.Mailbox, error) {
	res, err := getMailboxScript.Run(ctx, s.rdb, []string{numKey(did), mailboxKey(did)}).StringSlice()
	return s.mailboxResult(did, res, err)
}

// SetMailbox replaces a number's voicemail settings (validated first:
// nothing is written for a bad value).
func (s *Store) SetMailbox(ctx context.Context, did string, m routing.Mailbox) error {
	if err := m.Validate(); err != nil {
		return err
	}
	_, err := s.UpdateMailbox(ctx, did, MailboxChange{Greeting: &m.Greeting, MaxMessage: &m.MaxMessage})
	return err
}

// UpdateMailbox changes the settings ch gives, atomically, and returns the
// mailbox as it now is. A bad value is refused before anything is
// written (the error wraps routing.ErrBadGreeting or
// routing.ErrBadMaxMessage); ErrNotFound when the number does not exist.
func (s *Store) UpdateMailbox(ctx context.Context, did string, ch MailboxChange) (routing.Mailbox, error) {
	gGiven, g, mGiven, ms := "0", "", "0", ""
	if ch.Greeting != nil {
		gGiven, g = "1", *ch.Greeting
		if g != "" {
			if _, _, err := routing.ParseGreeting(g); err != nil {
				return routing.Mailbox{}, err
			}
		}
	}
	if ch.MaxMessage != nil {
		mGiven = "1"
		if d := *ch.MaxMessage; d != 0 {
			if err := routing.ValidateMaxMessage(d); err != nil {
				return routing.Mailbox{}, err
			}
			ms = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
	res, err := updateMailboxScript.Run(ctx, s.rdb, []string{numKey(did), mailboxKey(did)}, gGiven, g, mGiven, ms).StringSlice()
	return s.mailboxResult(did, res, err)
}

func (s *Store) mailboxResult(did string, res []string, err error) (routing.Mailbox, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return routing.Mailbox{}, fmt.Errorf("number %s: %w", did, ErrNotFound)
	case err != nil:
		return routing.Mailbox{}, fmt.Errorf("mailbox %s: %w: %w", did, ErrUnavailable, err)
	case len(res) != 2:
		return routing.Mailbox{}, fmt.Errorf("mailbox %s: %w: %d values", did, ErrCorrupt, len(res))
	}
	m := routing.DefaultMailbox()
	m.Greeting = res[0]
	if res[1] != "" {
		ms, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return routing.Mailbox{}, fmt.Errorf("mailbox %s: max_ms %q: %w", did, res[1], ErrCorrupt)
		}
		m.MaxMessage = time.Duration(ms) * time.Millisecond
	}
	if err := m.Validate(); err != nil {
		return routing.Mailbox{}, fmt.Errorf("mailbox %s: %w: %w", did, ErrCorrupt, err)
	}
	return m, nil
}

// ListVoicemails returns a number's voicemail messages (no call
// recordings), newest first. Messages past their retention are gone once
// vnumd's sweep deleted them (or their metadata's TTL ended).
// ErrNotFound naming the DID when there is no such number and no message.
func (s *Store) ListVoicemails(ctx context.Context, did string) ([]routing.Recording, error) {
	var exists *redis.IntCmd
	var names *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, numKey(did))
		names = p.ZRevRange(ctx, recIndexKey(did), 0, -1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("voicemails %s: %w: %w", did, ErrUnavailable, err)
	}
	if exists.Val() == 0 && len(names.Val()) == 0 {
		return nil, fmt.Errorf("number %s: %w", did, ErrNotFound)
	}
	// The index is scored by start time: newest first as read.
	out := []routing.Recording{}
	for chunk := range slices.Chunk(names.Val(), 500) {
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range chunk {
				cmds[i] = p.HGetAll(ctx, recKey(n))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("voicemails %s: %w: %w", did, ErrUnavailable, err)
		}
		for _, c := range cmds {
			// An empty hash: its retention ended (the index keeps the
			// name a little longer) or it was deleted meanwhile.
			if r, ok := recordingFrom(c.Val()); ok && r.Kind == kindVoicemail && r.DID == did {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// GetVoicemail returns one of a number's voicemail messages; ErrNotFound
// naming it when the number has no such message.
func (s *Store) GetVoicemail(ctx context.Context, did, name string) (routing.Recording, error) {
	m, err := s.rdb.HGetAll(ctx, recKey(name)).Result()
	if err != nil {
		return routing.Recording{}, fmt.Errorf("voicemail %s: %w: %w", name, ErrUnavailable, err)
	}
	r, ok := recordingFrom(m)
	if !ok || r.Kind != kindVoicemail || r.DID != did {
		return routing.Recording{}, fmt.Errorf("voicemail %s of %s: %w", name, did, ErrNotFound)
	}
	return r, nil
}

// DeleteVoicemail deletes one of a number's voicemail messages and returns
// what it was; ErrNotFound naming it when the number has no such message.
// Its audio file is queued for deletion from the PBX (QueueDeletions;
// vnumd's sweep deletes it) before its metadata goes, so a delete cut
// short never forgets the file.
func (s *Store) DeleteVoicemail(ctx context.Context, did, name string) (routing.Recording, error) {
	r, err := s.GetVoicemail(ctx, did, name)
	if err != nil {
		return routing.Recording{}, err
	}
	if err := s.QueueDeletions(ctx, name); err != nil {
		return routing.Recording{}, fmt.Errorf("delete voicemail %s: %w", name, err)
	}
	var del *redis.IntCmd
	// The message (slot of its name) and the number's index (slot of the
	// DID) may live on different Cluster nodes: one pipeline, not one
	// transaction. A name left in the index without its hash is skipped
	// by every reader.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, recKey(name))
		p.ZRem(ctx, recIndexKey(did), name)
		return nil
	})
	if err != nil {
		return routing.Recording{}, fmt.Errorf("delete voicemail %s: %w: %w", name, ErrUnavailable, err)
	}
	if del.Val() == 0 { // deleted (or expired) since it was read: its file is queued all the same
		return routing.Recording{}, fmt.Errorf("voicemail %s of %s: %w", name, did, ErrNotFound)
	}
	return r, nil
}

// recordingFrom decodes a recording hash as PutRecording writes it; false
// for an empty (missing) one.
func recordingFrom(m map[string]string) (routing.Recording, bool) {
	if len(m) == 0 || m["name"] == "" {
		return routing.Recording{}, false
	}
	st, _ := strconv.ParseInt(m["started"], 10, 64)
	d, _ := strconv.ParseInt(m["duration_ms"], 10, 64)
	return routing.Recording{Name: m["name"], CallID: m["call_id"], DID: m["did"], Kind: m["kind"],
		Caller: m["caller"], Started: time.UnixMilli(st).UTC(), Duration: time.Duration(d) * time.Millisecond,
		Node: m["node"], PBX: m["pbx"]}, true
}
