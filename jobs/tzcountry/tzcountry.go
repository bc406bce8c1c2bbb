// Package tzcountry tells the country of an IANA time zone: the country a
// borrower's time_zone puts them in, whose rules then apply to them. The
// binary embeds Go's time zone data but not IANA's zone.tab, so this
// package embeds a copy of zone.tab (tzdb 2025b; in the public domain, as
// its header says), and backward.tab, the country of each older name
// (US/Eastern, PRC, Asia/Calcutta) that zone.tab does not list.
package tzcountry

import (
	_ "embed"
	"strings"
)

// zoneTab is IANA's zone.tab: country code, coordinates, zone, comments.
//
//go:embed zone.tab
var zoneTab string

// backwardTab is country code, link name, target (see its header).
//
//go:embed backward.tab
var backwardTab string

// Index maps zone names to ISO 3166-1 alpha-2 country codes. It is
// read-only once built, and safe for concurrent use.
type Index struct {
	byZone map[string]string
}

// New parses the embedded tables (about 560 names).
func New() *Index {
	x := &Index{byZone: make(map[string]string, 600)}
	x.add(zoneTab, 2)
	x.add(backwardTab, 1)
	return x
}

// add adds the lines of a tab-separated table whose zone name is in
// column zoneColumn and country in column 0; comments and blank lines are
// skipped, and a name already known keeps its country (zone.tab first).
func (x *Index) add(table string, zoneColumn int) {
	for line := range strings.Lines(table) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) <= zoneColumn || len(cols[0]) != 2 {
			continue
		}
		if _, ok := x.byZone[cols[zoneColumn]]; !ok {
			x.byZone[cols[zoneColumn]] = cols[0]
		}
	}
}

// Country returns the country of zone ("CN" for Asia/Shanghai and PRC), or
// "" when the zone belongs to no country (UTC, Etc/GMT+8) or is unknown.
// It does not allocate.
func (x *Index) Country(zone string) string {
	return x.byZone[zone]
}

// Len is the number of zone names known.
func (x *Index) Len() int { return len(x.byZone) }
