package sandbox

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Clock is the sandbox's clock: wall time plus an offset that the admin
// API advances. It implements platform.Clock.
type Clock struct {
	mu      sync.Mutex
	offset  time.Duration
	waiters map[*waiter]struct{}
}

type waiter struct {
	deadline time.Time
	ch       chan time.Time
	timer    *time.Timer
}

// NewClock returns a clock at wall time.
func NewClock() *Clock { return &Clock{waiters: map[*waiter]struct{}{}} }

// Now is the sandbox time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

// After fires after d of sandbox time (early when the clock is advanced).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{deadline: time.Now().Add(c.offset + d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- time.Now().Add(c.offset).UTC()
		return w.ch
	}
	c.waiters[w] = struct{}{}
	w.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.fireLocked(w)
	})
	return w.ch
}

func (c *Clock) fireLocked(w *waiter) {
	if _, ok := c.waiters[w]; !ok {
		return
	}
	delete(c.waiters, w)
	w.timer.Stop()
	w.ch <- time.Now().Add(c.offset).UTC()
}

// Advance moves the clock forward by d and fires due waiters.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.offset += d
	}
	now := time.Now().Add(c.offset)
	for w := range c.waiters {
		if !w.deadline.After(now) {
			c.fireLocked(w)
		}
	}
	return now.UTC()
}

// Offset is how far the clock is ahead of wall time.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

func (c *Clock) setOffset(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

func decodeSeed(seed string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(seed), " ", ""))
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, fmt.Errorf("seed is empty")
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("seed is not base32")
	}
	return b, nil
}

// TOTP returns the 6-digit RFC 6238 code (SHA1, 30 s step) of a base32
// seed at t, or "" if the seed is not base32.
func TOTP(seed string, t time.Time) string {
	key, err := decodeSeed(seed)
	if err != nil {
		return ""
	}
	return totpAt(key, uint64(t.Unix()/30))
}

func totpAt(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1000000)
}

// checkTOTP reports whether code is valid for seed at t (current or
// previous 30 s window) and returns the window it matched.
func checkTOTP(seed, code string, t time.Time) (uint64, bool) {
	key, err := decodeSeed(seed)
	if err != nil {
		return 0, false
	}
	now := uint64(t.Unix() / 30)
	for _, c := range []uint64{now, now - 1} {
		if hmac.Equal([]byte(totpAt(key, c)), []byte(code)) {
			return c, true
		}
	}
	return 0, false
}
