package policy

import (
	"testing"
	"time"
)

// BenchmarkDecide: one borrower, two candidate zones, two caps, three items;
// "queued" decides inside the window, "deferred" before it opens; "regions"
// is "queued" for a borrower whose number is in Florida, so that the rules
// of two regions (US-FL and US) combine. The Plan is reused, as the
// pipeline does.
//
//	go test -run='^$' -bench=Decide -benchmem ./jobs/policy
func BenchmarkDecide(b *testing.B) {
	cfg := baseConfig(b)
	cfg.Caps = []Cap{{Max: 3, Per: 24 * time.Hour}, {Max: 7, Per: 168 * time.Hour, Channels: []Channel{SMS}}}
	p := mustNew(b, cfg)
	bw := borrower("America/Chicago")
	bw.Phone.Zones = []string{"America/New_York"}
	items := []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 15)), item(3, date(2026, 1, 5))}
	existing := []Contact{{utc(2026, 1, 14, 16, 0), SMS}, {utc(2026, 1, 12, 16, 0), Email}}
	florida := *bw
	florida.Phone.Country, florida.Phone.Subdivisions = "US", []string{"US-FL"}
	for _, bc := range []struct {
		name     string
		borrower *Borrower
		asOf     time.Time
		want     Decision
	}{
		{"queued", bw, utc(2026, 1, 15, 16, 0), Queued},     // 11:00 EST, 10:00 CST
		{"deferred", bw, utc(2026, 1, 15, 12, 0), Deferred}, // 07:00 EST, 06:00 CST
		{"regions", &florida, utc(2026, 1, 15, 16, 0), Queued},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := &Request{AsOf: bc.asOf, Borrower: bc.borrower, Items: items, Existing: existing}
			var plan Plan
			p.Decide(req, &plan)
			if len(plan.Messages) != 2 || plan.Messages[0].Decision != bc.want || len(plan.Messages[0].Items) != 3 {
				b.Fatalf("unexpected plan: %+v", plan.Messages)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p.Decide(req, &plan)
			}
		})
	}
}
