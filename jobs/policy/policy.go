package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/tzcountry"
)

// Error is the type of the package's sentinel errors. They are constants,
// so that the package holds no variables.
type Error string

// Error returns the message.
func (e Error) Error() string { return string(e) }

// ErrInvalidTimeZone is returned (wrapped) by Policy.Zones when the
// borrower's time_zone is set but is not a loadable IANA zone.
const ErrInvalidTimeZone Error = "invalid time zone"

// Policy is a validated, precomputed Config. It is safe for concurrent use by
// several goroutines.
type Policy struct {
	stages        Stages
	businessZone  *time.Location
	defaultZone   *time.Location
	defaultNote   string
	defaultRules  *ruleSet
	regions       map[string]*ruleSet
	caps          []capRule
	minSendWindow time.Duration
	maxPhoneZones int
	lateValidity  time.Duration
	locations     locationCache
	currencies    currencySet
	codes         codeCache  // the rule set of each region code met
	combos        comboCache // the rules of several candidate regions at once
}

// ruleSet is what applies to the borrowers of one region, or of several
// candidate regions at once (regions.go).
type ruleSet struct {
	key string // the region key, "" for the defaults
	// id is the same for rule sets with the same windows and holidays (0:
	// those of the defaults), which combine as one; noRuleSet for a
	// combination.
	id       uint32
	windows  []Window
	holidays []civil.Date // sorted, unique
	zones    []string
	zoneLocs []*time.Location
	clocks   []int32    // sorted unique wall clocks in [0, 86400) where a window opens or closes, and 0
	parts    []*ruleSet // of a combination: the rule sets it combines
}

// New validates cfg and precomputes what Decide needs. It copies every slice
// and map it keeps, so later changes to cfg do not affect the Policy.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		businessZone:  cfg.BusinessZone,
		defaultZone:   cfg.DefaultZone,
		minSendWindow: cfg.MinSendWindow,
		maxPhoneZones: cfg.MaxPhoneZones,
		lateValidity:  cfg.LateValidity,
		regions:       make(map[string]*ruleSet, len(cfg.Regions)),
	}
	p.locations.countries = tzcountry.New()
	if p.maxPhoneZones == 0 {
		p.maxPhoneZones = DefaultMaxPhoneZones
	}
	if p.lateValidity == 0 {
		p.lateValidity = DefaultLateValidity
	}
	p.defaultNote = "no zone known: used default " + p.defaultZone.String()
	p.currencies.fill()
	p.stages = make(Stages, len(cfg.Stages))
	for i, st := range cfg.Stages {
		st.Channels = slices.Clone(st.Channels)
		p.stages[i] = st
	}
	for _, c := range cfg.Caps {
		p.caps = append(p.caps, newCapRule(c))
	}
	p.defaultRules = newRuleSet("", cfg.Allowed, nil, nil)
	distinct := []*ruleSet{p.defaultRules} // by id: the first rule set of each content
	for _, key := range slices.Sorted(maps.Keys(cfg.Regions)) {
		rules := configuredRules(&cfg, key)
		rules.id = uint32(slices.IndexFunc(distinct, rules.sameRules))
		if int32(rules.id) < 0 {
			rules.id = uint32(len(distinct))
			distinct = append(distinct, rules)
		}
		p.regions[key] = rules
	}
	codes := make(map[string]*ruleSet, len(p.regions))
	maps.Copy(codes, p.regions)
	p.codes.m.Store(&codes)
	for _, rules := range p.regions {
		for _, loc := range rules.zoneLocs {
			p.locations.put(loc.String(), loc)
		}
	}
	return p, nil
}

// newCapRule precomputes a validated cap.
func newCapRule(c Cap) capRule {
	r := capRule{max: c.Max, per: int64(c.Per), name: c.Name(), channelMask: allChannels}
	r.reason = ReasonFrequencyCapPrefix + r.name
	if len(c.Channels) > 0 {
		r.channelMask = 0
		for _, ch := range c.Channels {
			r.channelMask |= chanBit(ch)
		}
	}
	return r
}

// configuredRules merges the rules of region key with its country's (a
// subdivision's own keys win; holidays add up) and the defaults.
func configuredRules(cfg *Config, key string) *ruleSet {
	r := cfg.Regions[key]
	country, _, _ := strings.Cut(key, "-")
	windows, holidays, zones := r.Allowed, slices.Clone(r.Holidays), r.Zones
	if cr, ok := cfg.Regions[country]; ok && country != key {
		if len(windows) == 0 {
			windows = cr.Allowed
		}
		holidays = append(holidays, cr.Holidays...)
		if len(zones) == 0 {
			zones = cr.Zones
		}
	}
	if len(windows) == 0 {
		windows = cfg.Allowed
	}
	return newRuleSet(key, windows, holidays, zones)
}

// sameRules reports whether two rule sets allow the same times: the same
// windows and holidays (zones aside, which are not rules of time).
func (rs *ruleSet) sameRules(other *ruleSet) bool {
	return slices.Equal(rs.windows, other.windows) && slices.Equal(rs.holidays, other.holidays)
}

// newRuleSet copies and indexes one region's rules (zones are validated).
func newRuleSet(key string, windows []Window, holidays []civil.Date, zones []string) *ruleSet {
	rules := &ruleSet{key: key, windows: slices.Clone(windows), zones: slices.Clone(zones)}
	rules.holidays = slices.Compact(slices.Sorted(slices.Values(holidays)))
	for _, z := range rules.zones {
		rules.zoneLocs = append(rules.zoneLocs, loadLocation(z))
	}
	rules.clocks = []int32{0}
	for _, w := range rules.windows {
		rules.clocks = append(rules.clocks, int32(w.From)%secondsPerDay, int32(w.To)%secondsPerDay)
	}
	slices.Sort(rules.clocks)
	rules.clocks = slices.Compact(rules.clocks)
	return rules
}

// rules returns the rule set for a borrower's region: the exact code, then
// its country, then the defaults.
func (p *Policy) rules(region string) *ruleSet {
	if region == "" {
		return p.defaultRules
	}
	if rs, ok := p.regions[region]; ok {
		return rs
	}
	country, _, _ := strings.Cut(region, "-")
	if rs, ok := p.regions[country]; ok {
		return rs
	}
	if up := strings.ToUpper(region); up != region {
		return p.rules(up)
	}
	return p.defaultRules
}

// Stages returns a copy of the policy's stages.
func (p *Policy) Stages() Stages { return slices.Clone(p.stages) }

// BusinessDate returns the business date of the instant asOf.
func (p *Policy) BusinessDate(asOf time.Time) civil.Date { return civil.DateIn(asOf, p.businessZone) }

// locationCache caches time.LoadLocation results (misses included), with
// each zone's country (a candidate region), behind a copy-on-write map, so
// that lookups take no lock and allocate nothing.
type locationCache struct {
	mu        sync.Mutex
	m         atomic.Pointer[map[string]zoneEntry]
	countries *tzcountry.Index // set by New, before any lookup
}

// zoneEntry is a cached zone: its location (nil: unknown) and country.
type zoneEntry struct {
	loc     *time.Location
	country string
}

// Cache bounds: distinct zone names are few (about 600 exist); unknown
// names are remembered only while the cache is small.
const (
	locationCacheMax        = 4096
	locationCacheMaxUnknown = 1024
)

// load returns the location named name, or nil when it is not a known IANA
// zone.
func (c *locationCache) load(name string) *time.Location { return c.entry(name).loc }

// entry returns the zone named name: its location, or nil when it is not a
// known IANA zone, and its country.
func (c *locationCache) entry(name string) zoneEntry {
	if m := c.m.Load(); m != nil {
		if e, ok := (*m)[name]; ok {
			return e
		}
	}
	return c.put(name, loadLocation(name))
}

// put remembers name's location (nil for unknown) if there is room, and
// returns its entry.
func (c *locationCache) put(name string, loc *time.Location) zoneEntry {
	e := zoneEntry{loc: loc}
	if loc != nil {
		e.country = c.countries.Country(name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]zoneEntry
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if _, ok := old[name]; ok || len(old) >= locationCacheMax || (loc == nil && len(old) >= locationCacheMaxUnknown) {
		return e
	}
	m := make(map[string]zoneEntry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = e
	c.m.Store(&m)
	return e
}

// Zones resolves the borrower's candidate time zones (Reg F comment 6(b)(1)(i)-2),
// deduplicated by name with the first source kept: the borrower's
// time_zone, the phone's zones (when the phone is valid and maps to 1..
// MaxPhoneZones zones other than Etc/Unknown), the region's zones; when none
// is known, Config.DefaultZone. notes says what was ignored or defaulted.
// err wraps ErrInvalidTimeZone when time_zone is set but unknown.
func (p *Policy) Zones(b *Borrower) (zones []ZoneUse, notes []string, err error) {
	zones, _, notes, _, ok := p.appendZones(b, nil, nil, nil)
	if !ok {
		return nil, notes, fmt.Errorf("time_zone %q: %w", b.TimeZone, ErrInvalidTimeZone)
	}
	return zones, notes, nil
}

// appendZones appends the candidate zones and their locations, and tells
// the country of the borrower's time_zone; ok is false when their
// time_zone is invalid.
func (p *Policy) appendZones(b *Borrower, zones []ZoneUse, locs []*time.Location, notes []string) (
	_ []ZoneUse, _ []*time.Location, _ []string, timeZoneCountry string, ok bool) {
	list := zoneList{zones: zones, locs: locs}
	if b.TimeZone != "" {
		zone := p.locations.entry(b.TimeZone)
		if zone.loc == nil {
			notes = append(notes, "time_zone "+quote(b.TimeZone)+" is not a known IANA time zone")
			return list.zones, list.locs, notes, "", false
		}
		list.add(b.TimeZone, SourceTimeZone, zone.loc)
		timeZoneCountry = zone.country
	}
	if b.Phone.Valid {
		notes = p.addPhoneZones(&list, b.Phone.Zones, notes)
	}
	if code := regionCode(b.Region); code != "" {
		rules := p.rules(code)
		for i, z := range rules.zones {
			list.add(z, SourceRegion, rules.zoneLocs[i])
		}
	}
	if len(list.zones) == 0 {
		list.add(p.defaultZone.String(), SourceDefault, p.defaultZone)
		notes = append(notes, p.defaultNote)
	}
	return list.zones, list.locs, notes, timeZoneCountry, true
}

// zoneList is a list of candidate zones and their locations, without
// repeats.
type zoneList struct {
	zones []ZoneUse
	locs  []*time.Location
}

// add appends a zone unless one of that name is listed.
func (l *zoneList) add(name, source string, loc *time.Location) {
	for _, z := range l.zones {
		if z.Name == name {
			return
		}
	}
	l.zones = append(l.zones, ZoneUse{Name: name, Source: source})
	l.locs = append(l.locs, loc)
}

// addPhoneZones adds the known zones of a valid phone number, unless it
// maps to more than MaxPhoneZones; notes says what was ignored.
func (p *Policy) addPhoneZones(list *zoneList, phoneZones []string, notes []string) []string {
	n := 0
	for _, z := range phoneZones {
		if z != "" && z != unknownPhoneZone {
			n++
		}
	}
	if n > p.maxPhoneZones {
		return append(notes, fmt.Sprintf("phone maps to %d zones: ignored", n))
	}
	for _, z := range phoneZones {
		if z == "" || z == unknownPhoneZone {
			continue
		}
		if loc := p.locations.load(z); loc != nil {
			list.add(z, SourcePhone, loc)
		} else {
			notes = append(notes, "phone zone "+quote(z)+" is not a known IANA time zone: ignored")
		}
	}
	return notes
}

// unknownPhoneZone is what libphonenumber returns when it knows no zone.
const unknownPhoneZone = "Etc/Unknown"

// quote quotes a value from the lender's tables for a note, cleaned: notes
// go to the audit, exports and terminals.
func quote(s string) string { return `"` + clean.Text(s, 64) + `"` }

// Permissible reports whether instant t is allowed for the borrower in every
// one of zones: inside the allowed windows of every candidate region of the
// borrower, not on a holiday of any, not in one of the borrower's quiet
// windows. Frequency caps are
// not considered. A zone whose name cannot be loaded makes t impermissible;
// no zones means Config.DefaultZone.
func (p *Policy) Permissible(b *Borrower, zones []ZoneUse, t time.Time) bool {
	var e evaluator
	locs := make([]*time.Location, 0, len(zones)+1)
	for _, z := range zones {
		loc := p.locations.load(z.Name)
		if loc == nil {
			return false
		}
		locs = append(locs, loc)
	}
	if len(locs) == 0 {
		locs = append(locs, p.defaultZone)
	}
	var timeZoneCountry string
	if b.TimeZone != "" {
		timeZoneCountry = p.locations.entry(b.TimeZone).country
	}
	regions, _ := p.appendRegions(b, timeZoneCountry, nil, nil)
	e.init(p.regionRules(regions), b.Quiet, locs)
	return e.permissibleAt(floorDiv(toNS(t), nsPerSec), false)
}
