package phone_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/queries"
)

func TestRegion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, region, want string }{
		{"subdivision", "US-FL", "US"},
		{"country", "cn", "CN"},
		{"none", "", "CN"},
		{"not a code", "1-FL", "CN"},
		{"too long", "USA", "CN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := phone.Region(tc.region, "CN"); got != tc.want {
				t.Errorf("Region(%q, CN) = %q, want %q", tc.region, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, region string
		valid             bool
		e164              string
	}{
		{"international", "+1 212-555-0100", "CN", true, "+12125550100"},
		{"national for the region", "(212) 555-0100", "US", true, "+12125550100"},
		{"garbage", "not a number", "US", false, ""},
		{"empty", "", "US", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := phone.Parse(tc.raw, tc.region)
			if p.Valid != tc.valid || p.E164 != tc.e164 || p.Raw != tc.raw || p.Region != tc.region {
				t.Errorf("Parse(%q, %s) = %+v", tc.raw, tc.region, p)
			}
			ph := phone.ForPolicy(p)
			if ph.Raw != tc.raw || ph.Valid != tc.valid || ph.E164 != tc.e164 {
				t.Errorf("ForPolicy(%+v) = %+v", p, ph)
			}
			if tc.valid && (p.Zones == "" || !slices.Contains(ph.Zones, "America/New_York")) {
				t.Errorf("zones %q (%v), want America/New_York among them", p.Zones, ph.Zones)
			}
		})
	}
}

// A number's country, and a North American number's state or province,
// are candidate regions: from libphonenumber's region code and its
// geocoding ("Florida", "New York, NY", "Nova Scotia/Prince Edward
// Island").
func TestParseRegions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, region     string
		country, subdivisions string
	}{
		{"Miami", "+1 305 555 0100", "CN", "US", "US-FL"},
		{"Florida panhandle", "+1 850 555 0100", "CN", "US", "US-FL"},
		{"a city with its state's code", "+1 212 555 0100", "CN", "US", "US-NY"},
		{"San Francisco", "+1 415 555 0100", "CN", "US", "US-CA"},
		{"Washington D.C.", "+1 202 555 0100", "CN", "US", "US-DC"},
		{"Washington State", "+1 206 555 0100", "CN", "US", "US-WA"},
		{"toll-free: the whole country", "+1 800 555 0100", "CN", "US", ""},
		{"Ontario", "+1 416 555 0100", "CN", "CA", "CA-ON"},
		{"British Columbia", "+1 604 555 0100", "CN", "CA", "CA-BC"},
		{"an area code two provinces share", "+1 902 555 0100", "CN", "CA", "CA-NS,CA-PE"},
		{"Puerto Rico is a country code", "+1 787 555 0100", "CN", "PR", ""},
		{"Dominican Republic", "+1 809 555 0100", "CN", "DO", ""},
		{"Shanghai", "+86 21 2555 0100", "US", "CN", ""},
		{"a Chinese mobile", "13812345678", "CN", "CN", ""},
		{"invalid: no region at all", "+1 305 555", "CN", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := phone.Parse(tc.raw, tc.region)
			if p.Country != tc.country || p.Subdivisions != tc.subdivisions {
				t.Errorf("Parse(%q, %s): country %q, subdivisions %q; want %q, %q", tc.raw, tc.region, p.Country, p.Subdivisions, tc.country, tc.subdivisions)
			}
			ph := phone.ForPolicy(p)
			if ph.Country != tc.country || strings.Join(ph.Subdivisions, ",") != tc.subdivisions {
				t.Errorf("ForPolicy: country %q, subdivisions %v", ph.Country, ph.Subdivisions)
			}
			if strings.Join(ph.Zones, ",") != p.Zones {
				t.Errorf("ForPolicy: zones %v, parse %q", ph.Zones, p.Zones)
			}
		})
	}
}

// ForPolicy builds both lists with one allocation: it runs for every
// borrower of every run.
func TestForPolicyAllocations(t *testing.T) {
	p := queries.PhoneParse{Raw: "x", Valid: true, E164: "+19025550100", Zones: "America/Halifax", Country: "CA", Subdivisions: "CA-NS,CA-PE"}
	if n := testing.AllocsPerRun(100, func() { phone.ForPolicy(p) }); n > 1 {
		t.Errorf("%v allocations, want at most 1", n)
	}
	ph := phone.ForPolicy(p)
	ph.Zones = append(ph.Zones, "appended")
	if ph.Subdivisions[0] != "CA-NS" {
		t.Errorf("appending to the zones overwrote the subdivisions: %v", ph.Subdivisions)
	}
}

// A batch parses each distinct number and region once.
func TestBatch(t *testing.T) {
	t.Parallel()
	var b phone.Batch
	b.Add("2125550100", "US")
	b.Add("2125550100", "US")
	b.Add("2125550100", "CN")
	if b.Len() != 2 {
		t.Fatalf("%d distinct numbers, want 2", b.Len())
	}
	b.Parse()
	if p := b.Get("2125550100", "US"); !p.Valid || p.E164 != "+12125550100" {
		t.Errorf("for US: %+v", p)
	}
	// The same digits are a Shanghai number for CN.
	if p := b.Get("2125550100", "CN"); p.E164 != "+862125550100" {
		t.Errorf("for CN: %+v", p)
	}
}

// A candidate row's cached parse is used as it is when its keyed hash
// matches; a row without one is to be parsed, and an older parse of the
// borrower's, or one changed behind the job's back, is to be replaced.
func TestFromCandidate(t *testing.T) {
	t.Parallel()
	h := pii.NewHasher([]byte("test key"))
	real := queries.PhoneParse{Raw: "2125550100", Region: "US", Valid: true, E164: "+12125550100", Zones: "America/New_York", Country: "US", Subdivisions: "US-NY"}
	sealed := phone.Seal(h, &real)
	for _, tc := range []struct {
		name         string
		c            queries.Candidate
		known, stale bool
		e164         string
	}{
		{"cached", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+12125550100", PhoneZones: "America/New_York", PhoneCountry: "US", PhoneSubdivisions: "US-NY",
			PhoneMAC: sealed}, true, false, "+12125550100"},
		{"not cached", queries.Candidate{Phone: "2125550100", Region: "US-NY"}, false, false, ""},
		{"cached for another number", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCacheRow: true}, false, true, ""},
		{"no number", queries.Candidate{Region: "US-NY", PhoneCacheRow: true}, true, true, ""},
		{"e164 changed behind the job's back", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+8613999999999", PhoneZones: "America/New_York", PhoneCountry: "US", PhoneSubdivisions: "US-NY",
			PhoneMAC: sealed}, false, true, ""},
		{"country changed behind the job's back", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+12125550100", PhoneZones: "America/New_York", PhoneCountry: "CA", PhoneMAC: sealed}, false, true, ""},
		{"cached before the seal", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+12125550100", PhoneZones: "America/New_York"}, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ph, lookup := phone.FromCandidate(&tc.c, "CN", h)
			if lookup.Known != tc.known || lookup.Stale != tc.stale || lookup.Region != "US" {
				t.Errorf("lookup %+v, want known %v, stale %v, region US", lookup, tc.known, tc.stale)
			}
			if ph.Raw != tc.c.Phone || ph.E164 != tc.e164 {
				t.Errorf("phone %+v", ph)
			}
			if tc.known && tc.e164 != "" && (ph.Country != "US" || !slices.Equal(ph.Subdivisions, []string{"US-NY"})) {
				t.Errorf("phone %+v: want the cached country US and subdivision US-NY", ph)
			}
		})
	}
}
