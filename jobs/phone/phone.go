// Package phone parses borrowers' phone numbers with nyaruka/phonenumbers
// (validity, E.164, the time zones, the country and, for North American
// numbers, the state or province the number belongs to) and keeps the
// parses in the job's cache, reminder_phone_cache. A parse costs about
// 26 µs, more than writing the number's reminders, so a run reads the
// cached parse with each candidate row (FromCandidate), parses only the
// numbers the cache does not know, once per distinct number (Batch), and
// stores the new parses off the writer's path (CacheWriter).
package phone

import (
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// Region is the region a borrower's number is parsed for: the country of
// the borrower's region (ISO 3166-2, US-FL), or the default. The candidate
// query computes the same key to find the cached parse.
func Region(borrowerRegion, defaultRegion string) string {
	r := borrowerRegion
	if len(r) >= 2 && isASCIILetter(r[0]) && isASCIILetter(r[1]) && (len(r) == 2 || r[2] == '-') {
		return strings.ToUpper(r[:2])
	}
	return defaultRegion
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// Parse parses a raw number for a region: validity, E.164, the zones the
// number belongs to, its country, and for a North American number the
// state or province its area code belongs to, as libphonenumber's
// geocoding names it. It costs about 26 µs: see the package comment. (The
// first North American number loads the geocoding data: about 0.2 s and
// 14 MiB, once per process.)
func Parse(raw, region string) queries.PhoneParse {
	p := queries.PhoneParse{Raw: raw, Region: region}
	num, country, ok := parseValid(raw, region)
	if !ok {
		return p
	}
	p.Valid = true
	p.E164 = phonenumbers.Format(num, phonenumbers.E164)
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err == nil {
		// The slice is the library's own, shared by every caller: filter
		// into a new one, never in place.
		kept := make([]string, 0, len(zones))
		for _, z := range zones {
			if z != "" && z != phonenumbers.UNKNOWN_TIMEZONE {
				kept = append(kept, z)
			}
		}
		p.Zones = strings.Join(kept, ",")
	}
	if len(country) == 2 { // not "001", a number of no country (+800)
		p.Country = country
	}
	if num.GetCountryCode() == 1 && (country == "US" || country == "CA") {
		if geo, err := phonenumbers.GetGeocodingForNumber(num, "en"); err == nil {
			p.Subdivisions = nanpSubdivisions(country, geo)
		}
	}
	return p
}

// parseValid parses a number and tells its country; ok is false unless it
// is valid. (IsValidNumber is GetRegionCodeForNumber and
// IsValidNumberForRegion: the country comes for free.)
func parseValid(raw, region string) (num *phonenumbers.PhoneNumber, country string, ok bool) {
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return nil, "", false
	}
	country = phonenumbers.GetRegionCodeForNumber(num)
	return num, country, phonenumbers.IsValidNumberForRegion(num, country)
}

// ForPolicy is the policy's view of a parsed number.
func ForPolicy(p queries.PhoneParse) policy.Phone {
	ph := policy.Phone{Raw: p.Raw, Valid: p.Valid, E164: p.E164, Country: p.Country}
	if p.Zones == "" && p.Subdivisions == "" {
		return ph
	}
	// One allocation for both lists: this runs for every borrower.
	list := make([]string, 0, strings.Count(p.Zones, ",")+strings.Count(p.Subdivisions, ",")+2)
	list = appendSplit(list, p.Zones)
	zones := len(list)
	list = appendSplit(list, p.Subdivisions)
	if zones > 0 {
		ph.Zones = list[:zones:zones]
	}
	if len(list) > zones {
		ph.Subdivisions = list[zones:]
	}
	return ph
}

// appendSplit appends the items of a comma-separated list.
func appendSplit(list []string, s string) []string {
	if s == "" {
		return list
	}
	for item := range strings.SplitSeq(s, ",") {
		list = append(list, item)
	}
	return list
}

// ContactHashes returns the keyed hashes under which audit details may name
// an address, as the job computes them: an email address's; a phone
// number's as given and trimmed (the job hashes a number it cannot parse
// as stored) and, when it parses for region, in E.164.
func ContactHashes(h *pii.Hasher, address, region string) []string {
	trimmed := strings.TrimSpace(address)
	if strings.Contains(trimmed, "@") {
		return []string{h.Contact("email", trimmed)}
	}
	var hashes []string
	add := func(a string) {
		if hash := h.Contact("sms", a); !slices.Contains(hashes, hash) {
			hashes = append(hashes, hash)
		}
	}
	add(address)
	add(trimmed)
	if num, _, ok := parseValid(trimmed, region); ok { // not Parse: no zones or geocoding needed
		add(phonenumbers.Format(num, phonenumbers.E164))
	}
	return hashes
}

// Normalize returns a borrower's number as the job writes it into a
// message (E.164, parsed for the borrower's region or defaultRegion), or ""
// when it does not parse: the sender compares it with a message's
// recipient.
func Normalize(raw, borrowerRegion, defaultRegion string) string {
	if p := Parse(raw, Region(borrowerRegion, defaultRegion)); p.Valid {
		return p.E164
	}
	return ""
}
