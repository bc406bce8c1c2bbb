package policy

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// DESIGN.md "Stages are windows, not exact days": a stage applies from its
// start until the next stage's start (or its own expiry).
func TestStagesAt(t *testing.T) {
	s := testStages() // -3 upcoming, 0 due, 1 late_1, 7 late_7, 30 final_notice (72h)
	due := date(2026, 1, 10)
	tests := []struct {
		days int // bd - due
		idx  int
		ok   bool
	}{
		{-4, -1, false}, {-3, 0, true}, {-1, 0, true}, {0, 1, true}, {1, 2, true},
		{2, 2, true}, // a missed run on day 1 is caught up on day 2, same stage
		{6, 2, true}, {7, 3, true}, {29, 3, true}, {30, 4, true}, {32, 4, true},
		{33, -1, false}, // 72h = 3 days: days 30, 31, 32
		{400, -1, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("day %d", tc.days), func(t *testing.T) {
			idx, ok := s.At(due, due.AddDays(tc.days))
			if idx != tc.idx || ok != tc.ok {
				t.Errorf("At(day %d) = %d, %v; want %d, %v", tc.days, idx, ok, tc.idx, tc.ok)
			}
		})
	}
	if lo, hi := s.Span(); lo != -3 || hi != 32 {
		t.Errorf("Span() = %d, %d; want -3, 32", lo, hi)
	}

	// A stage that expires before the next one starts leaves a gap; partial
	// days round up (36h = 2 days).
	gap := Stages{
		{Name: "a", DaysFromDue: 0, Channels: []Channel{SMS}, ExpiresAfter: 24 * time.Hour},
		{Name: "b", DaysFromDue: 5, Channels: []Channel{SMS}, ExpiresAfter: 36 * time.Hour},
	}
	for _, tc := range []struct {
		days, idx int
		ok        bool
	}{{-1, -1, false}, {0, 0, true}, {1, -1, false}, {4, -1, false}, {5, 1, true}, {6, 1, true}, {7, -1, false}} {
		t.Run(fmt.Sprintf("gap day %d", tc.days), func(t *testing.T) {
			if idx, ok := gap.At(due, due.AddDays(tc.days)); idx != tc.idx || ok != tc.ok {
				t.Errorf("gap At(day %d) = %d, %v; want %d, %v", tc.days, idx, ok, tc.idx, tc.ok)
			}
		})
	}
	if lo, hi := gap.Span(); lo != 0 || hi != 6 {
		t.Errorf("gap Span() = %d, %d; want 0, 6", lo, hi)
	}
	if lo, hi := (Stages{}).Span(); lo <= hi {
		t.Errorf("empty Span() = %d, %d: want an empty range", lo, hi)
	}
	if _, hi := (Stages{{Name: "x", Channels: []Channel{SMS}}}).Span(); hi != math.MaxInt32 {
		t.Errorf("unbounded Span() max = %d", hi)
	}
}

func TestStagesValidUntil(t *testing.T) {
	s := testStages()
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name string
		idx  int
		due  string
		loc  string
		want time.Time
	}{
		{"next stage start at midnight EST", 2, "2026-01-10", "America/New_York", utc(2026, 1, 17, 5, 0)},
		{"next stage start at midnight EDT (after spring forward)", 3, "2026-03-01", "America/New_York", utc(2026, 3, 31, 4, 0)},
		{"last stage: start + 72h, elapsed time across spring forward", 4, "2026-02-05", "America/New_York", utc(2026, 3, 10, 5, 0)},
		{"last stage: start + 72h", 4, "2026-01-10", "America/New_York", utc(2026, 2, 12, 5, 0)},
		// America/Santiago skips midnight on 2026-09-06 (00:00 -04 -> 01:00 -03 at 04:00 UTC).
		{"midnight that does not exist: the transition instant", 0, "2026-09-06", "America/Santiago", utc(2026, 9, 6, 4, 0)},
		// America/Havana repeats midnight on 2026-11-01 (01:00 CDT -> 00:00 CST at 05:00 UTC): the first one.
		{"midnight that happens twice: the first", 0, "2026-11-01", "America/Havana", utc(2026, 11, 1, 4, 0)},
		{"Chatham +13:45", 1, "2026-01-10", "Pacific/Chatham", utc(2026, 1, 10, 10, 15)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due := mustDate(t, tc.due)
			got := s.ValidUntil(tc.idx, due, mustLoc(t, tc.loc))
			if !got.Equal(tc.want) {
				t.Errorf("ValidUntil = %s, want %s", got.UTC(), tc.want)
			}
		})
	}
	if !s.ValidUntil(9, date(2026, 1, 1), ny).IsZero() || !s.ValidUntil(0, date(2026, 1, 1), nil).IsZero() {
		t.Error("out-of-range index or nil zone: want the zero Time")
	}
}

// DESIGN.md: "a stage with days_from_due: 1 applies from one day after the
// due date until the next stage's start, so a missed run is caught up by the
// next one, without re-sending" (the ledger is keyed by stage).
func TestMissedRunCaughtUp(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	due := date(2026, 1, 10)
	tests := []struct {
		asOf  time.Time
		stage int
		dec   Decision
	}{
		{utc(2026, 1, 12, 15, 0), 2, Queued},   // the run of the 11th was missed: late_1 on the 12th
		{utc(2026, 1, 16, 15, 0), 2, Queued},   // still late_1 on day 6
		{utc(2026, 1, 17, 15, 0), 3, Queued},   // late_7 from day 7: a new stage
		{utc(2026, 2, 11, 15, 0), 4, Queued},   // final_notice, day 32
		{utc(2026, 2, 12, 15, 0), -1, Skipped}, // 72h after its start: expired, no stage
	}
	for _, tc := range tests {
		t.Run(tc.asOf.Format(time.RFC3339), func(t *testing.T) {
			if got := p.BusinessDate(tc.asOf); got != civil.DateIn(tc.asOf, p.businessZone) {
				t.Fatalf("BusinessDate %s", got)
			}
			plan := decide(p, &Request{AsOf: tc.asOf, Borrower: borrower("America/New_York"), Items: []Item{item(1, due)}})
			o := plan.Outcomes[0]
			if o.Stage != tc.stage || o.Decision != tc.dec {
				t.Errorf("as of %s: %+v; want stage %d %s", tc.asOf, o, tc.stage, tc.dec)
			}
			if o.Message >= 0 {
				m := plan.Messages[o.Message]
				validity := p.Stages().ValidUntil(tc.stage, due, p.businessZone)
				if m.ValidUntil.After(validity) {
					t.Errorf("message valid until %s, after its stage ends at %s", m.ValidUntil, validity)
				}
			}
		})
	}
	// late_1 for this installment ends when late_7 starts: 2026-01-17 00:00 EST.
	if got := p.Stages().ValidUntil(2, due, p.businessZone); !got.Equal(utc(2026, 1, 17, 5, 0)) {
		t.Errorf("late_1 valid until %s", got)
	}
}

// Stages.Validate is the one set of stage rules: Config.Validate reports
// exactly its problems for the stages, and the config package reports them
// under its field paths.
func TestStagesValidate(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		if err := testStages().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if err := (Stages{}).Validate(); err == nil || err.Error() != "stages: at least one stage is required" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("same as Config.Validate", func(t *testing.T) {
		cfg := baseConfig(t)
		cfg.Stages[1].DaysFromDue = -5
		cfg.Stages[2].Channels = nil
		cfg.Stages[3].Name = "Late 7"
		err := cfg.Stages.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		if cerr := cfg.Validate(); cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("Config.Validate:\n%v\nStages.Validate:\n%v", cerr, err)
		}
	})
}
