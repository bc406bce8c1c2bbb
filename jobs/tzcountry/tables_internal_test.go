package tzcountry

import (
	"testing"
	"time"
)

// Every name the tables give is a zone Go can load (a name that fails
// would be a typo), with a two-letter country code, and the tables are
// read whole.
func TestTablesLoad(t *testing.T) {
	t.Parallel()
	x := New()
	if x.Len() < 540 {
		t.Fatalf("%d zone names, want the whole of zone.tab and backward.tab", x.Len())
	}
	for zone, country := range x.byZone {
		if _, err := time.LoadLocation(zone); err != nil {
			t.Errorf("%s (%s): %v", zone, country, err)
		}
		if len(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z' {
			t.Errorf("%s: country %q", zone, country)
		}
	}
}
