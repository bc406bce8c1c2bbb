package policy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Candidate regions. A borrower's region column may be empty or wrong, so
// the rules of every region the borrower may be in apply, as every zone
// they may be in does (Reg F comment 6(b)(1)(i)-2): the borrower's region,
// the phone number's state or province and country, and the country of
// their time_zone. A region with no rules of its own has the defaults.
// Their rules combine so that the strictest wins: an instant is allowed
// only when every region's windows allow it, and the holidays of every
// region apply. The candidate zones are not widened by them: an inferred
// region's other zones are no location of the borrower's (a Miami number
// does not put its owner in Central time).

// RegionUse is a candidate region (ISO 3166-2, or a country's ISO 3166-1
// code) and where it came from: SourceRegion (the borrower's region),
// SourcePhone (the phone number's state or province, and its country) or
// SourceTimeZone (the country of the borrower's time_zone).
type RegionUse struct{ Code, Source string }

// maxCombined is how many distinct rule sets a cached combination holds:
// a borrower has at most a region, three subdivisions of a phone number
// (an area code provinces share), its country and the time zone's.
const maxCombined = 8

// comboKey identifies a combination of rule sets: their ids, ascending,
// then noRuleSet.
type comboKey [maxCombined]uint32

const noRuleSet = ^uint32(0)

// comboCache holds the combined rule sets built so far, behind a
// copy-on-write map, so that lookups take no lock and allocate nothing
// (as locationCache).
type comboCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[comboKey]*ruleSet]
}

// comboCacheMax bounds the cache: distinct combinations are few (the
// configured regions that borrowers' regions, numbers and zones meet in).
const comboCacheMax = 4096

func (c *comboCache) get(k comboKey) *ruleSet {
	if m := c.m.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// put remembers rs for k if there is room, and returns the rule set to
// use: the one already cached for k, if another goroutine was first.
func (c *comboCache) put(k comboKey, rs *ruleSet) *ruleSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[comboKey]*ruleSet
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if prev, ok := old[k]; ok {
		return prev
	}
	if len(old) >= comboCacheMax {
		return rs
	}
	m := make(map[comboKey]*ruleSet, len(old)+1)
	for key, v := range old {
		m[key] = v
	}
	m[k] = rs
	c.m.Store(&m)
	return rs
}

// codeCache maps region codes to their rule sets (Policy.rules: the exact
// code, then its country, then the defaults) behind a copy-on-write map,
// so that a borrower's regions cost a lookup each, without a lock or an
// allocation. It starts with every configured code.
type codeCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]*ruleSet]
}

// codeCacheMax bounds the codes remembered (ISO 3166-2 has about 5,000).
const codeCacheMax = 8192

// rulesOf returns the rule set of a region code (upper case, valid).
func (p *Policy) rulesOf(code string) *ruleSet {
	if m := p.codes.m.Load(); m != nil {
		if rs, ok := (*m)[code]; ok {
			return rs
		}
	}
	rs := p.rules(code)
	p.codes.put(code, rs)
	return rs
}

func (c *codeCache) put(code string, rs *ruleSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]*ruleSet
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if _, ok := old[code]; ok || len(old) >= codeCacheMax {
		return
	}
	m := make(map[string]*ruleSet, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[code] = rs
	c.m.Store(&m)
}

// appendRegions appends the borrower's candidate regions, without
// repeats (the first source kept), given their time_zone's country (from
// appendZones); notes says what was ignored. It allocates nothing unless
// the borrower's region must be upper-cased or is ignored.
func (p *Policy) appendRegions(b *Borrower, timeZoneCountry string, regions []RegionUse, notes []string) ([]RegionUse, []string) {
	if b.Region != "" {
		code := regionCode(b.Region)
		if code == "" {
			notes = append(notes, "region "+quote(b.Region)+" is not an ISO 3166-2 code: ignored")
		} else {
			regions = addRegion(regions, code, SourceRegion)
		}
	}
	if b.Phone.Valid {
		for _, code := range b.Phone.Subdivisions {
			if validRegionKey(code) {
				regions = addRegion(regions, code, SourcePhone)
			}
		}
		if validRegionKey(b.Phone.Country) {
			regions = addRegion(regions, b.Phone.Country, SourcePhone)
		}
	}
	if timeZoneCountry != "" {
		regions = addRegion(regions, timeZoneCountry, SourceTimeZone)
	}
	return regions, notes
}

// regionCode is a borrower's region as a code ("us-fl" and " US-FL " are
// US-FL), or "" when it is none.
func regionCode(region string) string {
	if region == "" {
		return ""
	}
	if validRegionKey(region) {
		return region
	}
	if up := strings.ToUpper(strings.TrimSpace(region)); validRegionKey(up) {
		return up
	}
	return ""
}

// addRegion appends a region unless it is listed.
func addRegion(regions []RegionUse, code, source string) []RegionUse {
	for _, r := range regions {
		if r.Code == code {
			return regions
		}
	}
	return append(regions, RegionUse{Code: code, Source: source})
}

// regionRules returns the rules of every candidate region at once: those
// of the first region when every region's rule set allows the same times,
// or their combination (cached). No region: the defaults.
func (p *Policy) regionRules(regions []RegionUse) *ruleSet {
	var key comboKey
	n := 0
	var first *ruleSet
	for _, r := range regions {
		rs := p.rulesOf(r.Code)
		if n == 0 {
			first = rs
		}
		n = insertID(&key, n, rs.id)
	}
	switch {
	case n == 0:
		return p.defaultRules
	case n == 1:
		return first
	case n > maxCombined:
		return p.combine(regions) // not reached with the regions a borrower can have
	}
	for i := n; i < maxCombined; i++ {
		key[i] = noRuleSet
	}
	if rs := p.combos.get(key); rs != nil {
		return rs
	}
	return p.combos.put(key, p.combine(regions))
}

// insertID adds id to the first n ids of key, kept ascending without
// repeats, and returns how many there are; past maxCombined it only counts.
func insertID(key *comboKey, n int, id uint32) int {
	if n > maxCombined {
		return n
	}
	i := 0
	for i < n && key[i] < id {
		i++
	}
	if i < n && key[i] == id {
		return n
	}
	if n == maxCombined {
		return n + 1
	}
	copy(key[i+1:n+1], key[i:n])
	key[i] = id
	return n + 1
}

// combine builds the rule set of several regions' rule sets: windows
// intersected (an instant is allowed when every region allows it),
// holidays united. It is cached for every borrower whose regions have
// rule sets of the same ids, so it names none of the regions.
func (p *Policy) combine(regions []RegionUse) *ruleSet {
	var sets []*ruleSet
	for _, r := range regions {
		rs := p.rulesOf(r.Code)
		if !slices.ContainsFunc(sets, func(s *ruleSet) bool { return s.id == rs.id }) {
			sets = append(sets, rs)
		}
	}
	slices.SortFunc(sets, func(a, b *ruleSet) int { return int(a.id) - int(b.id) })
	windows := sets[0].windows
	var holidays []civil.Date
	sameWindows := true
	for _, rs := range sets {
		sameWindows = sameWindows && slices.Equal(rs.windows, windows)
		holidays = append(holidays, rs.holidays...)
	}
	if !sameWindows {
		groups := make([][]Window, len(sets))
		for i, rs := range sets {
			groups[i] = rs.windows
		}
		windows = intersectWindows(groups)
	}
	combined := newRuleSet(combinedKey, windows, holidays, nil)
	combined.id = noRuleSet
	combined.parts = sets
	return combined
}

// combinedKey is the key of a combined rule set.
const combinedKey = "(several)"

// span is [from, to) seconds of a local day.
type span struct{ from, to int32 }

// weekSpans is, for each weekday (Sunday = 0), the sorted, disjoint spans
// of the local day in which a set of windows allows contact. A window
// across midnight is its evening on its day and its morning on the next.
type weekSpans [7][]span

func spansOf(windows []Window) weekSpans {
	var w weekSpans
	for _, win := range windows {
		from, to := int32(win.From), int32(win.To)
		for d := range 7 {
			if win.Days&(1<<d) == 0 {
				continue
			}
			if from < to {
				w[d] = append(w[d], span{from, to})
				continue
			}
			if from < secondsPerDay {
				w[d] = append(w[d], span{from, secondsPerDay})
			}
			if to > 0 {
				w[(d+1)%7] = append(w[(d+1)%7], span{0, to})
			}
		}
	}
	for d := range w {
		w[d] = mergeSpans(w[d])
	}
	return w
}

// mergeSpans sorts spans and joins those that overlap or touch.
func mergeSpans(s []span) []span {
	slices.SortFunc(s, func(a, b span) int { return int(a.from) - int(b.from) })
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// intersectSpans returns the spans in both a and b (each sorted and
// disjoint).
func intersectSpans(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := max(a[i].from, b[j].from), min(a[i].to, b[j].to)
		if from < to {
			out = append(out, span{from, to})
		}
		if a[i].to < b[j].to {
			i++
		} else {
			j++
		}
	}
	return out
}

// intersectWindows returns windows that allow exactly the wall clock
// readings that some window of every group allows: one window per
// distinct span, on the days that have it. Windows are judged by weekday
// and wall clock alone, so the result is exact across DST changes. None
// when the groups share no time.
func intersectWindows(groups [][]Window) []Window {
	week := spansOf(groups[0])
	for _, g := range groups[1:] {
		other := spansOf(g)
		for d := range week {
			week[d] = intersectSpans(week[d], other[d])
		}
	}
	var out []Window
	for d, spans := range week {
		for _, s := range spans {
			i := slices.IndexFunc(out, func(w Window) bool { return w.From == Clock(s.from) && w.To == Clock(s.to) })
			if i < 0 {
				out = append(out, Window{From: Clock(s.from), To: Clock(s.to)})
				i = len(out) - 1
			}
			out[i].Days |= 1 << d
		}
	}
	slices.SortFunc(out, func(a, b Window) int {
		if a.From != b.From {
			return int(a.From) - int(b.From)
		}
		return int(a.To) - int(b.To)
	})
	return out
}
