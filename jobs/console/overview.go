package console

import (
	"net/http"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/queries"
)

// chartDays is how many business days the overview's chart covers.
const chartDays = 30

type overviewData struct {
	Now         time.Time
	Lanes       []runRow
	Outbox      queries.OutboxNow // the whole outbox as it stands
	StatusSince time.Time
	ByStatus    []statusCount // every status, for the messages of the runs since StatusSince
	Chart       *dailyChart
	Days        []queries.DailyCounts // the chart's figures, newest first, as a table
	From, To    string
}

// statusCount is a number of messages in one status; Attention marks the
// statuses that need a person.
type statusCount struct {
	Status    string
	Count     int64
	Attention bool
}

// byStatus lists every status, in the order of a message's life, with its
// count (0 when absent); nothing when there is no message at all.
func byStatus(counts []queries.StatusCount) []statusCount {
	if len(counts) == 0 {
		return nil
	}
	n := map[string]int64{}
	for _, c := range counts {
		n[c.Status] += c.Count
	}
	out := make([]statusCount, 0, len(messageStatuses))
	for _, st := range messageStatuses {
		out = append(out, statusCount{Status: st, Count: n[st], Attention: needsAttention(st)})
	}
	return out
}

// runRow is a run as the lists show it.
type runRow struct {
	queries.Run
	Lane     string // "scheduled" (scheduled and manual runs) or "backfill"
	Duration time.Duration
}

func newRunRow(r queries.Run) runRow {
	row := runRow{Run: r, Lane: "scheduled"}
	if r.Mode == "backfill" {
		row.Lane = "backfill"
	}
	if r.FinishedAt.Valid {
		row.Duration = r.FinishedAt.Time.Sub(r.StartedAt)
	}
	return row
}

// Shard writes the run's shard as I/N.
func (r runRow) Shard() string { return shardText(r.ShardIndex, r.ShardCount) }

// Anchor is the run's anchor (RUN:HEAD) for `audit verify --anchor`, once
// it has ended; a skipped run is in no chain and has none.
func (r runRow) Anchor() string {
	if r.Status == "running" || r.Status == "skipped" || r.AuditHead == "" {
		return ""
	}
	return itoa(r.ID) + ":" + r.AuditHead
}

// overview: the last run of every lane and shard, the outbox and its
// delivery state, and the decisions and messages of the last 30 business
// days, from the run records and indexes.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	now := s.cfg.Now()
	d := &overviewData{Now: now}
	runs, err := queries.ConsoleLastRuns(ctx, s.db)
	if err != nil {
		return err
	}
	for _, run := range runs {
		d.Lanes = append(d.Lanes, newRunRow(run))
	}
	if d.Outbox, err = queries.ConsoleOutboxNow(ctx, s.db, now); err != nil {
		return err
	}
	d.StatusSince = now.Add(-24 * time.Hour)
	counts, err := queries.ConsoleOutboxByStatus(ctx, s.db, d.StatusSince)
	if err != nil {
		return err
	}
	d.ByStatus = byStatus(counts)
	today := civil.DateIn(now, s.cfg.BusinessZone)
	first := today.AddDays(-(chartDays - 1))
	d.From, d.To = first.String(), today.String()
	daily, err := queries.ConsoleDailyCounts(ctx, s.db, d.From, d.To)
	if err != nil {
		return err
	}
	days := make([]queries.DailyCounts, 0, chartDays)
	byDay := map[string]queries.DailyCounts{}
	for _, c := range daily {
		byDay[c.Day] = c
	}
	for day := first; day <= today; day = day.AddDays(1) {
		c, ok := byDay[day.String()]
		if !ok {
			c = queries.DailyCounts{Day: day.String()}
		}
		days = append(days, c)
	}
	d.Chart = newDailyChart(days)
	for i := len(days) - 1; i >= 0; i-- {
		if days[i].Runs > 0 {
			d.Days = append(d.Days, days[i])
		}
	}
	return s.render(w, r, rq, http.StatusOK, "overview.html", "Overview", d)
}
