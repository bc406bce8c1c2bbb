package phone

import "strings"

// nanpSubdivisions returns the ISO 3166-2 codes, comma-separated, of the
// states or provinces that libphonenumber's English geocoding of a North
// American number of country (US or CA) names: "Florida" and "Miami, FL"
// give US-FL, "Nova Scotia/Prince Edward Island" gives CA-NS,CA-PE. It
// returns "" for any other country, and when the geocoding names the whole
// country ("United States", a toll-free number) or nothing it knows.
func nanpSubdivisions(country, geocoding string) string {
	var code func(string) string
	switch country {
	case "US":
		code = usState
	case "CA":
		code = caProvince
	default:
		return ""
	}
	var out []string
	for part := range strings.SplitSeq(geocoding, "/") {
		part = strings.TrimSpace(part)
		if i := strings.LastIndex(part, ", "); i >= 0 {
			part = part[i+2:] // "Miami, FL": the state's code
		}
		if c := code(part); c != "" && !containsString(out, country+"-"+c) {
			out = append(out, country+"-"+c)
		}
	}
	return strings.Join(out, ",")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// usState returns the ISO 3166-2:US code (without "US-") of a state or
// DC, by its code or its name as the geocoding data spells it.
func usState(name string) string {
	switch name {
	case "AL", "Alabama":
		return "AL"
	case "AK", "Alaska":
		return "AK"
	case "AZ", "Arizona":
		return "AZ"
	case "AR", "Arkansas":
		return "AR"
	case "CA", "California":
		return "CA"
	case "CO", "Colorado":
		return "CO"
	case "CT", "Connecticut":
		return "CT"
	case "DE", "Delaware":
		return "DE"
	case "DC", "Washington D.C.", "District of Columbia":
		return "DC"
	case "FL", "Florida":
		return "FL"
	case "GA", "Georgia":
		return "GA"
	case "HI", "Hawaii":
		return "HI"
	case "ID", "Idaho":
		return "ID"
	case "IL", "Illinois":
		return "IL"
	case "IN", "Indiana":
		return "IN"
	case "IA", "Iowa":
		return "IA"
	case "KS", "Kansas":
		return "KS"
	case "KY", "Kentucky":
		return "KY"
	case "LA", "Louisiana":
		return "LA"
	case "ME", "Maine":
		return "ME"
	case "MD", "Maryland":
		return "MD"
	case "MA", "Massachusetts":
		return "MA"
	case "MI", "Michigan":
		return "MI"
	case "MN", "Minnesota":
		return "MN"
	case "MS", "Mississippi":
		return "MS"
	case "MO", "Missouri":
		return "MO"
	case "MT", "Montana":
		return "MT"
	case "NE", "Nebraska":
		return "NE"
	case "NV", "Nevada":
		return "NV"
	case "NH", "New Hampshire":
		return "NH"
	case "NJ", "New Jersey":
		return "NJ"
	case "NM", "New Mexico":
		return "NM"
	case "NY", "New York":
		return "NY"
	case "NC", "North Carolina":
		return "NC"
	case "ND", "North Dakota":
		return "ND"
	case "OH", "Ohio":
		return "OH"
	case "OK", "Oklahoma":
		return "OK"
	case "OR", "Oregon":
		return "OR"
	case "PA", "Pennsylvania":
		return "PA"
	case "RI", "Rhode Island":
		return "RI"
	case "SC", "South Carolina":
		return "SC"
	case "SD", "South Dakota":
		return "SD"
	case "TN", "Tennessee":
		return "TN"
	case "TX", "Texas":
		return "TX"
	case "UT", "Utah":
		return "UT"
	case "VT", "Vermont":
		return "VT"
	case "VA", "Virginia":
		return "VA"
	case "WA", "Washington", "Washington State":
		return "WA"
	case "WV", "West Virginia":
		return "WV"
	case "WI", "Wisconsin":
		return "WI"
	case "WY", "Wyoming":
		return "WY"
	}
	return ""
}

// caProvince returns the ISO 3166-2:CA code (without "CA-") of a province
// or territory, by its code or its name as the geocoding data spells it
// (it has "British Colombia" for some prefixes, and "Watson Lake", a
// town in Yukon, without its territory).
func caProvince(name string) string {
	switch name {
	case "AB", "Alberta":
		return "AB"
	case "BC", "British Columbia", "British Colombia":
		return "BC"
	case "MB", "Manitoba":
		return "MB"
	case "NB", "New Brunswick":
		return "NB"
	case "NL", "Newfoundland and Labrador", "Newfoundland":
		return "NL"
	case "NS", "Nova Scotia":
		return "NS"
	case "NT", "Northwest Territories":
		return "NT"
	case "NU", "Nunavut":
		return "NU"
	case "ON", "Ontario":
		return "ON"
	case "PE", "Prince Edward Island":
		return "PE"
	case "QC", "Quebec", "Québec":
		return "QC"
	case "SK", "Saskatchewan":
		return "SK"
	case "YT", "Yukon", "Watson Lake":
		return "YT"
	}
	return ""
}
