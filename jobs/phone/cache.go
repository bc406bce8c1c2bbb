package phone

import (
	"context"
	"database/sql"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// Lookup is what the cache told a run about a borrower's number.
type Lookup struct {
	Region string // the region the number is parsed for
	Known  bool   // parsed: the cache held this number's parse, or there is no number
	Stale  bool   // the cache holds an older number's parse for the borrower, to replace
}

// FromCandidate reads the cached parse that came with a candidate row: the
// policy's view of the number (only its Raw unless Known) and what the
// cache knew. A cached parse whose keyed hash (Seal) does not match is not
// trusted: someone changed it behind the job's back (the job's role can
// write the cache, but does not hold the key), and it is parsed again and
// replaced.
func FromCandidate(c *queries.Candidate, defaultRegion string, h *pii.Hasher) (policy.Phone, Lookup) {
	lookup := Lookup{Region: Region(c.Region, defaultRegion), Stale: c.PhoneCacheRow && !c.PhoneCached}
	switch {
	case c.Phone == "":
		// No number: nothing to parse, whatever the cache held for an
		// older one.
		lookup.Known = true
		return policy.Phone{}, lookup
	case c.PhoneCached:
		parse := queries.PhoneParse{Raw: c.Phone, Region: lookup.Region, Valid: c.PhoneValid, E164: c.PhoneE164, Zones: c.PhoneZones,
			Country: c.PhoneCountry, Subdivisions: c.PhoneSubdivisions}
		if Seal(h, &parse) != c.PhoneMAC {
			lookup.Stale = true
			break
		}
		lookup.Known = true
		return ForPolicy(parse), lookup
	}
	return policy.Phone{Raw: c.Phone}, lookup
}

// Seal returns the keyed hash of a parse that the cache keeps beside it:
// of everything the policy takes from it. (v2 added the country and the
// subdivisions: a parse cached before them does not match, and is parsed
// again.)
func Seal(h *pii.Hasher, p *queries.PhoneParse) string {
	valid := "0"
	if p.Valid {
		valid = "1"
	}
	return h.Record("loanremind.phone-cache.v2", p.Raw, p.Region, valid, p.E164, p.Zones, p.Country, p.Subdivisions)
}

// Batch parses numbers once per distinct number and region: Add each, then
// Parse, then Get each.
type Batch struct {
	index  map[numberKey]int
	parses []queries.PhoneParse
}

type numberKey struct{ raw, region string }

// Add adds a number to parse.
func (b *Batch) Add(raw, region string) {
	if b.index == nil {
		b.index = map[numberKey]int{}
	}
	k := numberKey{raw, region}
	if _, ok := b.index[k]; !ok {
		b.index[k] = len(b.parses)
		b.parses = append(b.parses, queries.PhoneParse{Raw: raw, Region: region})
	}
}

// Len is the number of distinct numbers added.
func (b *Batch) Len() int { return len(b.parses) }

// Parse parses every number added.
func (b *Batch) Parse() {
	for i := range b.parses {
		b.parses[i] = Parse(b.parses[i].Raw, b.parses[i].Region)
	}
}

// Get returns the parse of an added number.
func (b *Batch) Get(raw, region string) queries.PhoneParse {
	return b.parses[b.index[numberKey{raw, region}]]
}

// CacheWriter stores new parses in the cache on a connection of its own,
// off the writer's path: the cache is an optimization, and losing a part of
// it costs only a parse next time. A nil CacheWriter (a dry run's) stores
// nothing.
type CacheWriter struct {
	parses chan []queries.PhoneParse
	done   chan struct{}
}

// NewCacheWriter starts storing the parses given to Store until Close.
func NewCacheWriter(ctx context.Context, db *sql.DB, log *logrus.Entry) *CacheWriter {
	w := &CacheWriter{parses: make(chan []queries.PhoneParse, 4), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ps := range w.parses {
			if err := queries.CachePhonesTx(ctx, db, ps); err != nil {
				log.WithError(err).Warn("could not cache parsed phone numbers; the next run parses them again")
			}
		}
	}()
	return w
}

// Store queues parses for the cache; it waits while the cache is behind.
func (w *CacheWriter) Store(ps []queries.PhoneParse) {
	if w == nil || len(ps) == 0 {
		return
	}
	w.parses <- ps
}

// Close stores what is queued and stops.
func (w *CacheWriter) Close() {
	if w == nil {
		return
	}
	close(w.parses)
	<-w.done
}
