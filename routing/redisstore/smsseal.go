package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/vnum/vnum/routing"
)

// sealedPrefix marks an SMS thread's sender kept sealed.
const sealedPrefix = "sealed:"

// errSealed: a sealed thread sender that does not open (another key, a
// damaged value).
var errSealed = errors.New("sms thread sender does not open with this deployment's key")

// threadAEAD is the cipher of SMS thread senders under the hmac policy:
// AES-256-GCM with a key derived from the deployment key. A reply needs
// the sender's number back, which a hash cannot give, and no raw caller
// number may be stored: so the number is kept sealed. nil without hmac.
func (s *Store) threadAEAD() (cipher.AEAD, error) {
	if s.priv.Caller != routing.StoreHMAC {
		return nil, nil
	}
	m := hmac.New(sha256.New, s.priv.Key)
	m.Write([]byte("vnum sms thread sender v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSender is how a thread keeps its sender: as is, or sealed (bound to
// the DID, so a value moved to another number's thread does not open).
func (s *Store) sealSender(did, sender string) (string, error) {
	aead, err := s.threadAEAD()
	if err != nil || aead == nil {
		return sender, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, []byte(sender), []byte(did))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openSender reverses sealSender.
func (s *Store) openSender(did, v string) (string, error) {
	rest, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return v, nil
	}
	aead, err := s.threadAEAD()
	if err != nil {
		return "", err
	}
	raw, derr := base64.RawURLEncoding.DecodeString(rest)
	if aead == nil || derr != nil || len(raw) < aead.NonceSize() {
		return "", fmt.Errorf("sms thread %s: %w", did, errSealed)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(did))
	if err != nil {
		return "", fmt.Errorf("sms thread %s: %w", did, errSealed)
	}
	return string(plain), nil
}
