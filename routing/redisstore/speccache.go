package redisstore

import (
	"sync"

	"github.com/vnum/vnum/routing"
)

// cachedSpec is a decoded number spec and the version it was decoded from.
type cachedSpec struct {
	ver string
	n   routing.Number
}

// specCache keeps decoded number specs so a decision for a number seen
// before neither transfers nor decodes its spec: the script compares
// versions (a hash of the spec) and sends the spec only when it changed.
// A nil cache caches nothing.
type specCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]*cachedSpec
}

func newSpecCache(max int) *specCache {
	return &specCache{max: max, m: make(map[string]*cachedSpec)}
}

func (c *specCache) get(did string) *cachedSpec {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[did]
}

func (c *specCache) put(did string, s *cachedSpec) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[did]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict one arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[did] = s
}

func (c *specCache) drop(did string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, did)
}
