package tzcountry_test

import (
	"testing"

	"github.com/loanremind/loanremind/jobs/tzcountry"
)

func TestCountry(t *testing.T) {
	t.Parallel()
	x := tzcountry.New()
	for _, tc := range []struct{ zone, want string }{
		{"Asia/Shanghai", "CN"},
		{"Asia/Urumqi", "CN"},
		{"America/New_York", "US"},
		{"America/Chicago", "US"},
		{"America/Toronto", "CA"},
		{"America/Puerto_Rico", "PR"},
		{"Europe/London", "GB"},
		{"Atlantic/Canary", "ES"},
		{"Asia/Kathmandu", "NP"},
		{"Arctic/Longyearbyen", "SJ"}, // a link that zone.tab lists
		{"US/Eastern", "US"},          // backward names
		{"PRC", "CN"},
		{"Asia/Calcutta", "IN"},
		{"Asia/Chongqing", "CN"},
		{"Iceland", "IS"}, // linked to Africa/Abidjan, but Iceland
		{"UTC", ""},
		{"Etc/GMT+8", ""},
		{"Mars/Base", ""},
		{"", ""},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			if got := x.Country(tc.zone); got != tc.want {
				t.Errorf("Country(%q) = %q, want %q", tc.zone, got, tc.want)
			}
		})
	}
}

func BenchmarkCountry(b *testing.B) {
	x := tzcountry.New()
	b.ReportAllocs()
	for b.Loop() {
		if x.Country("America/New_York") != "US" {
			b.Fatal("wrong country")
		}
	}
}
