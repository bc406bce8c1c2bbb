package phone_test

import (
	"slices"
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
	real := queries.PhoneParse{Raw: "2125550100", Region: "US", Valid: true, E164: "+12125550100", Zones: "America/New_York"}
	sealed := phone.Seal(h, &real)
	for _, tc := range []struct {
		name         string
		c            queries.Candidate
		known, stale bool
		e164         string
	}{
		{"cached", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+12125550100", PhoneZones: "America/New_York", PhoneMAC: sealed}, true, false, "+12125550100"},
		{"not cached", queries.Candidate{Phone: "2125550100", Region: "US-NY"}, false, false, ""},
		{"cached for another number", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCacheRow: true}, false, true, ""},
		{"no number", queries.Candidate{Region: "US-NY", PhoneCacheRow: true}, true, true, ""},
		{"e164 changed behind the job's back", queries.Candidate{Phone: "2125550100", Region: "US-NY", PhoneCached: true, PhoneCacheRow: true,
			PhoneValid: true, PhoneE164: "+8613999999999", PhoneZones: "America/New_York", PhoneMAC: sealed}, false, true, ""},
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
		})
	}
}
