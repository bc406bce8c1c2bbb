package jobs

import (
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// phoneRegion is the region a borrower's number is parsed for: the country
// of the borrower's region, or the default. The candidate query computes
// the same key to find the cached parse.
func phoneRegion(region, defaultRegion string) string {
	if len(region) >= 2 && isASCIILetter(region[0]) && isASCIILetter(region[1]) && (len(region) == 2 || region[2] == '-') {
		return strings.ToUpper(region[:2])
	}
	return defaultRegion
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// parsePhone parses a raw number with nyaruka/phonenumbers: validity, E.164
// and the zones the number belongs to. It costs about 26 µs, so results are
// cached in reminder_phone_cache.
func parsePhone(raw, region string) queries.PhoneParse {
	p := queries.PhoneParse{Raw: raw, Region: region}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
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
	return p
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
	if p := parsePhone(trimmed, region); p.Valid {
		add(p.E164)
	}
	return hashes
}

// policyPhone turns a parse into the policy's view of the number.
func policyPhone(raw string, valid bool, e164, zones string) policy.Phone {
	ph := policy.Phone{Raw: raw, Valid: valid, E164: e164}
	if zones != "" {
		ph.Zones = strings.Split(zones, ",")
	}
	return ph
}

// NormalizePhone returns a borrower's number as the job writes it into a
// message (E.164 for the borrower's region, or defaultRegion), or "" when
// it does not parse: the sender compares it with a message's recipient.
func NormalizePhone(raw, region, defaultRegion string) string {
	if p := parsePhone(raw, phoneRegion(region, defaultRegion)); p.Valid {
		return p.E164
	}
	return ""
}
