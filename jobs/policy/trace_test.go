package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/trace")

// The trace is what `explain` prints, word for word: each case's trace is
// kept in testdata/trace/<case>.txt, so that a change to the wording or to
// the steps shows in review. go test ./jobs/policy -run TestTraceGolden -update
// rewrites them.
func TestTraceGolden(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(c *Config)
		req  func() *Request
	}{
		{"deferred by quiet hours and a cap", func(c *Config) { c.Caps = []Cap{{Max: 2, Per: 24 * time.Hour}} }, func() *Request {
			b := borrower("America/Los_Angeles")
			b.Phone.Zones = []string{"America/New_York"}
			b.Quiet = []QuietWindow{{Days: wd(time.Friday), From: 0, To: secondsPerDay}}
			req := &Request{AsOf: asOfThu(), Borrower: b, Items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 1))},
				Existing: []Contact{{asOfThu().Add(-time.Hour), SMS}}}
			req.Items[1].LoanStatus = "disputed"
			return req
		}},
		{"no stage and an invalid time zone", nil, func() *Request {
			return &Request{AsOf: asOfThu(), Borrower: borrower("Mars/Base"), Items: []Item{item(1, date(2025, 1, 1)), item(2, date(2026, 1, 14))}}
		}},
		{"fallback to email", nil, func() *Request {
			b := borrower("America/Chicago")
			b.Phone = Phone{Raw: "555", Valid: false}
			return &Request{AsOf: asOfThu(), Borrower: b, Items: []Item{item(1, date(2026, 1, 15))}}
		}},
		{"no common window", func(c *Config) {
			c.Regions["CN"] = Region{Allowed: []Window{{Days: AllDays, From: 9 * 3600, To: 20 * 3600}}}
		}, func() *Request {
			b := borrower("Asia/Shanghai")
			b.Region = "CN"
			b.Phone.Zones = []string{"America/New_York"}
			return &Request{AsOf: asOfThu(), Borrower: b, Items: []Item{item(1, date(2026, 1, 14))}}
		}},
		{"caps full and an expiry", func(c *Config) {
			c.Caps = []Cap{{Max: 1, Per: 24 * time.Hour}, {Max: 2, Per: 168 * time.Hour, Channels: []Channel{SMS}}}
		}, func() *Request {
			return &Request{AsOf: asOfThu(), Borrower: borrower("America/New_York"),
				Items:    []Item{item(1, date(2026, 1, 9)), item(2, date(2026, 1, 8))},
				Existing: []Contact{{asOfThu().Add(-2 * time.Hour), SMS}, {asOfThu().Add(-50 * time.Hour), Email}}}
		}},
		{"a cap-exempt final notice", func(c *Config) { c.Caps = []Cap{{Max: 1, Per: 24 * time.Hour}} }, func() *Request {
			return &Request{AsOf: asOfThu(), Borrower: borrower("America/New_York"), Items: []Item{item(1, date(2025, 12, 16))},
				Existing: []Contact{{asOfThu().Add(-2 * time.Hour), Email}}}
		}},
		{"backfill without SendLate", nil, func() *Request {
			req := &Request{AsOf: utc(2026, 1, 12, 15, 0), NotBefore: asOfThu(), Borrower: borrower("America/New_York"),
				Items: []Item{item(1, date(2026, 1, 11)), item(2, date(2026, 1, 15))}}
			return req
		}},
		{"backfill with SendLate", nil, func() *Request {
			req := &Request{AsOf: utc(2026, 1, 12, 15, 0), NotBefore: utc(2026, 1, 16, 15, 0), Borrower: borrower("America/New_York"),
				Items: []Item{item(1, date(2026, 1, 9))}, Options: Options{SendLate: true}}
			return req
		}},
		{"holiday in Florida", nil, func() *Request {
			b := borrower("")
			b.Region = "US-FL"
			b.Phone.Zones = nil
			b.Quiet = []QuietWindow{{Days: wd(time.Saturday), From: 8 * 3600, To: 12 * 3600, NotBefore: date(2026, 7, 1)}}
			return &Request{AsOf: utc(2026, 7, 3, 14, 0), Borrower: b, Items: []Item{item(1, date(2026, 7, 1))}}
		}},
		{"regions from the phone and the time zone", nil, func() *Request {
			// Issue 14: no region, a Miami number, Eastern time, 20:30 EDT.
			b := borrower("America/New_York")
			b.Phone = Phone{Raw: "3055550100", E164: "+13055550100", Valid: true, Zones: []string{"America/New_York"},
				Country: "US", Subdivisions: []string{"US-FL"}}
			return &Request{AsOf: utc(2026, 7, 16, 0, 30), Borrower: b, Items: []Item{item(1, date(2026, 7, 14))}}
		}},
		{"minimum send window", func(c *Config) { c.MinSendWindow = 30 * time.Minute }, func() *Request {
			return &Request{AsOf: utc(2026, 1, 16, 1, 45), Borrower: borrower("America/New_York"), Items: []Item{item(1, date(2026, 1, 13))}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			req := tc.req()
			req.Options.Trace = true
			got := strings.Join(decide(mustNew(t, cfg), req).Trace, "\n") + "\n"
			path := filepath.Join("testdata", "trace", strings.ReplaceAll(tc.name, " ", "_")+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("trace differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}
