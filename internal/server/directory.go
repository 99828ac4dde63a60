package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

// A directory is every secret the store held when it was loaded, in memory,
// so that a server answers a key it has not seen yet without a look at the
// store: with a million keys and uniformly random traffic, nearly every
// request would otherwise be a cache miss, and a look at the store costs
// ten times the rest of a request (docs/performance.md). It is loaded in two
// streaming passes before the server answers, again after big changes
// (loader.go), and kept
// right as the cache is: the watcher evicts what changed, and a key evicted
// from it is looked up in the store and cached as before.
//
// It is laid out for a million keys in about 130 MiB: no pointer per key
// (the garbage collector then has nothing to scan), parts of the answer that
// keys share (a company, a set of scopes and metadata, a null expiry) kept
// once, and the key's id as 16 bytes. An entry (cache.go) is assembled from
// it for each request, exactly as newEntry makes one from the store's
// answer: about 1.5 µs at a million keys (BenchmarkDirectoryFind).
type directory struct {
	// seq is the last event the directory accounts for: it was loaded
	// after reading it, so it holds every change up to it at least.
	seq int64

	// buckets[b] is the first slot whose hash's first two bytes are b or
	// more, so that a lookup searches a few slots rather than all.
	buckets []uint32
	slots   []slot   // by hash
	keys    []dirKey // in the order the store read them
	byID    []uint32 // indexes in keys, by id
	uses    []useCell
	names   []byte // the keys' names as JSON strings, end to end
	parts   []string
	// expiries are when keys expire (Unix µs, noExpiry for never), by
	// the index of their tail part, which holds the same time in JSON.
	expiries map[uint32]int64
	graces   []int64 // when secrets in their grace end, Unix µs; [0] unused

	// lost counts keys evicted since the load: the loader reloads when
	// many are (loader.go).
	lost atomic.Int64
}

// slot is a secret of the directory.
type slot struct {
	hash  apikey.Hash
	key   uint32 // index in keys
	grace uint32 // index in graces; 0 for a secret that does not end
}

// dirKey is a key of the directory. The /v1/me answer of a key is
// {"id":"<id>","name":<name> then its company part, its extra part (scopes
// and metadata) and its tail (the expiry and the closing brace), each an
// index in parts. 48 bytes.
type dirKey struct {
	id       uuid.UUID
	name     uint32 // offset in names
	nameLen  uint32
	company  uint32
	extra    uint32
	tail     uint32
	header   uint32 // the X-Apikey-Name value when it is not the name's JSON without quotes; 0 when it is
	limits   uint32 // the packed limits (limits.go); 0 for none
	inactive bool
}

// hashBefore reports whether hash x sorts before hash y.
func hashBefore(x, y *apikey.Hash) bool { return bytes.Compare(x[:], y[:]) < 0 }

// bucketOf is the bucket of a hash: its first two bytes.
func bucketOf(h *apikey.Hash) int { return int(h[0])<<8 | int(h[1]) }

// find returns the entry of the secret with hash h, nil when the directory
// does not hold it or its key was evicted.
func (d *directory) find(h apikey.Hash) *entry {
	s := d.slotOf(&h)
	if s == nil {
		return nil
	}
	if d.uses[s.key].evicted.Load() {
		return nil
	}
	graceEnd := int64(noExpiry)
	if s.grace != 0 {
		graceEnd = d.graces[s.grace]
	}
	return d.entry(s.key, graceEnd)
}

// slotOf is the slot of the secret with hash h, nil when there is none.
func (d *directory) slotOf(h *apikey.Hash) *slot {
	// Hashes are SHA-256, spread evenly over their bucket: its next two
	// bytes tell about where in it h is, and the search walks from there
	// to its place, a slot or two away. Each slot read is a miss of the
	// processor's cache with a million keys: a binary search of the
	// bucket (15 slots at a million keys) read four, one after the other,
	// and a lookup with the entry assembled took 1.35-1.46 µs rather than
	// 1.17-1.20 (BenchmarkDirectoryFind at a million keys).
	b := bucketOf(h)
	lo, hi := int(d.buckets[b]), int(d.buckets[b+1])
	at := lo + int(uint(h[2])<<8|uint(h[3]))*(hi-lo)>>16
	for at > lo && !hashBefore(&d.slots[at-1].hash, h) {
		at--
	}
	for at < hi && hashBefore(&d.slots[at].hash, h) {
		at++
	}
	if at == hi || d.slots[at].hash != *h {
		return nil
	}
	return &d.slots[at]
}

// Where the parts of a directory key's answer put its id, name and company
// id: {"id":"<36>","name":<name> then the company part,
// ,"company":{"id":"<company id>"… (checked when the key was added), so that
// an entry's spans are known without searching.
const (
	idAt        = len(`{"id":"`)
	nameAt      = idAt + 36 + len(`","name":`) // the name's opening quote
	companyIDAt = len(`,"company":{"id":"`)    // within the company part
)

// entry assembles the entry of key i, whose presented secret stops working
// at graceEnd: the same entry newEntry makes of the store's answer.
func (d *directory) entry(i uint32, graceEnd int64) *entry {
	k := &d.keys[i]
	name := d.names[k.name : k.name+k.nameLen]
	company, extra, tail, limits := d.parts[k.company], d.parts[k.extra], d.parts[k.tail], d.parts[k.limits]
	companyID := companyIDOf(company)
	header := d.parts[k.header]

	var b strings.Builder
	bodyLen := nameAt + len(name) + len(company) + len(extra) + len(tail)
	b.Grow(bodyLen + len(header) + len(limits))
	b.WriteString(`{"id":"`)
	var id [36]byte
	encodeUUID(&id, k.id)
	b.Write(id[:])
	b.WriteString(`","name":`)
	b.Write(name)
	b.WriteString(company)
	b.WriteString(extra)
	b.WriteString(tail)
	// The name header is the name's JSON without its quotes, unless the
	// key has one of its own; that one is found in the body or follows it,
	// as newEntry does.
	nameSpan := span{uint32(nameAt + 1), uint32(len(name) - 2)}
	if k.header != 0 {
		if at := strings.Index(b.String(), header); at >= 0 {
			nameSpan = span{uint32(at), uint32(len(header))}
		} else {
			nameSpan = span{uint32(bodyLen), uint32(len(header))}
			b.WriteString(header)
		}
	}
	b.WriteString(limits)
	data := b.String()
	return &entry{
		data:     data,
		use:      &d.uses[i],
		bodyLen:  uint32(bodyLen),
		keyID:    span{uint32(idAt), 36},
		company:  span{uint32(nameAt + len(name) + companyIDAt), uint32(len(companyID))},
		name:     nameSpan,
		limits:   span{uint32(len(data) - len(limits)), uint32(len(limits))},
		active:   !k.inactive,
		expires:  d.expiries[k.tail],
		graceEnd: graceEnd,
	}
}

// companyIDOf is the company id in a company part, which begins
// ,"company":{"id":"<id>" (checked when the key was added; an id holds no
// quote, or its JSON would not have matched).
func companyIDOf(part string) string {
	id := part[companyIDAt:]
	return id[:strings.IndexByte(id, '"')]
}

// encodeUUID writes u as uuid.UUID.String does, without allocating.
func encodeUUID(dst *[36]byte, u uuid.UUID) {
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], u[10:])
}

// keyIndex is the index of the key with the given id, false when the
// directory does not hold it.
func (d *directory) keyIndex(id string) (uint32, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return 0, false
	}
	return d.indexOf(u)
}

// indexOf is the index in keys of the key with id u, false when the
// directory does not hold it.
func (d *directory) indexOf(u uuid.UUID) (uint32, bool) {
	j, found := slices.BinarySearchFunc(d.byID, u, func(i uint32, u uuid.UUID) int {
		return bytes.Compare(d.keys[i].id[:], u[:])
	})
	if !found {
		return 0, false
	}
	return d.byID[j], true
}

// evict takes the keys with the given ids, and every key of the given
// companies, out of service, handing their last uses to pending.
func (d *directory) evict(keys, companies map[string]bool, pending *usage) {
	for id := range keys {
		if i, ok := d.keyIndex(id); ok {
			d.evictKey(i, id, pending)
		}
	}
	if len(companies) == 0 {
		return
	}
	for i := range d.keys {
		if companies[companyIDOf(d.parts[d.keys[i].company])] {
			d.evictKey(uint32(i), d.keys[i].id.String(), pending)
		}
	}
}

func (d *directory) evictKey(i uint32, id string, pending *usage) {
	if !d.uses[i].evicted.Load() {
		d.lost.Add(1)
	}
	if used := d.uses[i].evict(); used != 0 {
		pending.add(keyUse(id, d.uses[i].created, used))
	}
}

// evictAll takes every key out of service, when the directory is dropped.
func (d *directory) evictAll(pending *usage) {
	for i := range d.uses {
		if used := d.uses[i].evict(); used != 0 {
			pending.add(keyUse(d.keys[i].id.String(), d.uses[i].created, used))
		}
	}
}

// bytes is about how much memory the directory takes.
func (d *directory) bytes() int64 {
	n := len(d.buckets)*4 + len(d.slots)*int(unsafe.Sizeof(slot{})) + len(d.keys)*int(unsafe.Sizeof(dirKey{})+unsafe.Sizeof(useCell{})+4) +
		len(d.names) + len(d.graces)*8
	for _, p := range d.parts {
		n += len(p) + 16
	}
	return int64(n)
}

// size is the number of keys the directory holds in service.
func (d *directory) size() int { return len(d.keys) - int(d.lost.Load()) }

// loadDirectory reads every secret and every key of the store into a
// directory that accounts for the events up to seq (read before): two
// streaming passes, each in the order the store keeps its rows. They need
// not be one snapshot, since both see at least every change up to seq, and
// the watcher evicts every key changed after. A key the directory cannot
// hold (an id that is not a UUID, an answer of a shape it does not know) is
// left out, and looked up in the store when presented.
func loadDirectory(ctx context.Context, st secretLister, seq int64) (*directory, error) {
	b := newDirectoryBuilder(seq)
	if err := st.EachSecretHash(ctx, b.addSecret); err != nil {
		return nil, err
	}
	if err := st.EachKey(ctx, store.KeyFilter{}, b.addKey); err != nil {
		return nil, err
	}
	return b.finish(), nil
}

// secretLister is a Store that can read every secret and every key at
// once; *store.Store can. A server whose store cannot works from its cache
// alone.
type secretLister interface {
	EachSecretHash(ctx context.Context, fn func(store.SecretHash) error) error
	EachKey(ctx context.Context, f store.KeyFilter, fn func(apikey.Key) error) error
}

// directoryBuilder makes a directory: the secrets first, each with its
// key's id (owners), then the keys.
type directoryBuilder struct {
	d       *directory
	owners  []uuid.UUID // by slot, until finish
	created []int64     // by key, Unix µs, until finish
	interns map[string]uint32
}

func newDirectoryBuilder(seq int64) *directoryBuilder {
	return &directoryBuilder{
		d:       &directory{seq: seq, parts: []string{""}, graces: []int64{0}, expiries: map[uint32]int64{}},
		interns: map[string]uint32{"": 0},
	}
}

// intern returns the index of part in parts, adding a copy of it the first
// time (part is cut from a longer string, which it must not keep alive).
func (b *directoryBuilder) intern(part string) uint32 {
	if i, ok := b.interns[part]; ok {
		return i
	}
	part = strings.Clone(part)
	i := uint32(len(b.d.parts))
	b.d.parts = append(b.d.parts, part)
	b.interns[part] = i
	return i
}

// canonicalUUID is id as a UUID, false when id is not one in the form
// apikey writes (which the directory could not give back as it was).
func canonicalUUID(id string) (uuid.UUID, bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return uuid.UUID{}, false
	}
	return u, true
}

func (b *directoryBuilder) addSecret(sec store.SecretHash) error {
	u, ok := canonicalUUID(sec.KeyID)
	if !ok {
		return nil
	}
	s := slot{hash: sec.Hash}
	if sec.ExpiresAt != nil {
		s.grace = uint32(len(b.d.graces))
		b.d.graces = append(b.d.graces, sec.ExpiresAt.UnixMicro())
	}
	b.d.slots = append(b.d.slots, s)
	b.owners = append(b.owners, u)
	return nil
}

// addKey adds a key. The parts of its answer are cut out of the entry that
// newEntry makes, so that the directory answers byte for byte as the cache
// does. A key of a shape it cannot cut is left out.
func (b *directoryBuilder) addKey(k apikey.Key) error {
	u, ok := canonicalUUID(k.ID)
	if !ok {
		return nil
	}
	if b.d.keys == nil {
		// Nearly every key has one secret.
		b.d.keys = make([]dirKey, 0, len(b.d.slots))
	}
	e := newEntry(store.Presented{Key: k})
	body := e.body()
	rest, ok := strings.CutPrefix(body, `{"id":"`+k.ID+`","name":`)
	if !ok {
		return nil
	}
	// A quote inside a JSON string is escaped, so the first of these
	// separators is the field's, never part of a name or a value.
	nameEnd := strings.Index(rest, `,"company":`)
	extraStart := strings.Index(rest, `,"scopes":`)
	tailStart := strings.Index(rest, `,"expires_at":`)
	if nameEnd < 2 || extraStart < nameEnd || tailStart < extraStart {
		return nil
	}
	name := rest[:nameEnd]
	if !strings.HasPrefix(rest[nameEnd:], `,"company":{"id":"`+k.Company.ID+`"`) {
		return nil
	}
	header := e.nameHeader()
	dk := dirKey{
		id:       u,
		name:     uint32(len(b.d.names)),
		nameLen:  uint32(len(name)),
		company:  b.intern(rest[nameEnd:extraStart]),
		extra:    b.intern(rest[extraStart:tailStart]),
		tail:     b.intern(rest[tailStart:]),
		limits:   b.intern(e.part(e.limits)),
		inactive: !e.active,
	}
	if name != `"`+header+`"` {
		dk.header = b.intern(header)
	}
	b.d.expiries[dk.tail] = e.expires
	b.d.names = append(b.d.names, name...)
	b.d.keys = append(b.d.keys, dk)
	b.created = append(b.created, k.CreatedAt.UnixMicro())
	return nil
}

// finish sorts the directory for lookups, ties each secret to its key, and
// returns it. A secret whose key was not read (made between the two passes,
// or left out) is left out too.
func (b *directoryBuilder) finish() *directory {
	d := b.d
	// The keys stay in the store's order, their creation order, which is
	// the order the flusher writes their last uses in (cache.uses): on
	// SQLite, the order of key_uses, so that a batch writes neighbouring
	// rows rather than rows all over the file: 7 µs a key at a million
	// keys, 59 in the order of ids into the table of keys
	// (BenchmarkFlushUses, docs/performance.md).
	d.byID = make([]uint32, len(d.keys))
	for i := range d.byID {
		d.byID[i] = uint32(i)
	}
	slices.SortFunc(d.byID, func(x, y uint32) int { return bytes.Compare(d.keys[x].id[:], d.keys[y].id[:]) })
	kept := d.slots[:0]
	for i, s := range d.slots {
		if k, found := d.indexOf(b.owners[i]); found {
			s.key = k
			kept = append(kept, s)
		}
	}
	b.owners = nil
	d.slots = slices.Clip(kept)
	d.sortSlots()
	d.names = slices.Clip(d.names)
	d.uses = make([]useCell, len(d.keys))
	for i := range d.uses {
		d.uses[i].created = b.created[i]
	}
	b.created = nil
	return d
}

// sortSlots sorts the slots by hash and makes their buckets.
func (d *directory) sortSlots() {
	slices.SortFunc(d.slots, func(x, y slot) int { return bytes.Compare(x.hash[:], y.hash[:]) })
	d.buckets = make([]uint32, 1<<16+1)
	next := 0
	for bucket := range 1 << 16 {
		for next < len(d.slots) && bucketOf(&d.slots[next].hash) < bucket {
			next++
		}
		d.buckets[bucket] = uint32(next)
	}
	d.buckets[1<<16] = uint32(len(d.slots))
}
