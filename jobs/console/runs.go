package console

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// runsPageSize is how many runs a page of the runs list shows.
const runsPageSize = 50

type runsData struct {
	Filter runsFilter
	Runs   []runRow
	Older  string // the next page's query, or ""
}

// runsFilter is the runs list's form, as typed.
type runsFilter struct {
	Mode, Status, From, To, Shard, Actor string
}

func (s *Server) runsList(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	f := runsFilter{Mode: q.Get("mode"), Status: q.Get("status"), From: q.Get("from"), To: q.Get("to"),
		Shard: q.Get("shard"), Actor: clean.Text(q.Get("actor"), 100)}
	rf := queries.RunFilter{Mode: f.Mode, Status: f.Status, Shard: -1, Actor: f.Actor, Limit: runsPageSize}
	switch f.Mode {
	case "", "scheduled", "manual", "backfill":
	default:
		return errorf(http.StatusBadRequest, "Unknown mode.")
	}
	switch f.Status {
	case "", "running", "succeeded", "failed", "skipped":
	default:
		return errorf(http.StatusBadRequest, "Unknown status.")
	}
	for _, d := range []*string{&f.From, &f.To} {
		if *d == "" {
			continue
		}
		if _, err := civil.ParseDate(*d); err != nil {
			return errorf(http.StatusBadRequest, "Dates are written YYYY-MM-DD.")
		}
	}
	rf.From, rf.To = f.From, f.To
	if f.Shard != "" {
		i, n, ok := parseShard(f.Shard)
		if !ok {
			return errorf(http.StatusBadRequest, "A shard is written I/N, such as 0/4.")
		}
		rf.Shard, rf.ShardCount = i, n
	}
	if b := q.Get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			return errorf(http.StatusBadRequest, "Not a run id.")
		}
		rf.Before = id
	}
	runs, err := queries.ConsoleRuns(r.Context(), s.db, rf)
	if err != nil {
		return err
	}
	d := &runsData{Filter: f}
	for _, run := range runs {
		d.Runs = append(d.Runs, newRunRow(run))
	}
	if len(runs) == runsPageSize {
		next := url.Values{}
		for k, v := range map[string]string{"mode": f.Mode, "status": f.Status, "from": f.From, "to": f.To, "shard": f.Shard, "actor": f.Actor} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", itoa(runs[len(runs)-1].ID))
		d.Older = next.Encode()
	}
	return s.render(w, r, rq, http.StatusOK, "runs.html", "Runs", d)
}

func parseShard(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, false
	}
	return i, n, true
}

func shardText(i, n int) string { return strconv.Itoa(i) + "/" + strconv.Itoa(n) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type runData struct {
	Run        runRow
	Breakdown  []queries.BreakdownRow
	Chart      *barChart
	Totals     []decisionTotal
	Verify     *verifyResult
	ExportFrom string
	ExportTo   string
}

type decisionTotal struct {
	Decision string
	Count    int64
}

// verifyResult is what "Verify this run" found.
type verifyResult struct {
	OK       bool
	Runs     int64
	Rows     int64
	Problems []string
	More     int
}

// maxShownProblems bounds the problems a page lists: the first breaks are
// the ones that matter.
const maxShownProblems = 20

func (s *Server) runPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.loadRun(r.Context(), r)
	if err != nil {
		return err
	}
	return s.render(w, r, rq, http.StatusOK, "run.html", "Run", d)
}

// verifyRun runs `audit verify --run ID` and shows the run with the
// outcome. One verification runs at a time.
func (s *Server) verifyRun(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.loadRun(r.Context(), r)
	if err != nil {
		return err
	}
	select {
	case s.verifies <- struct{}{}:
		defer func() { <-s.verifies }()
	default:
		w.Header().Set("Retry-After", "5")
		return errorf(http.StatusTooManyRequests, "Another verification is running: try again in a moment.")
	}
	rep, err := audit.Verify(r.Context(), s.db, audit.VerifyFilter{RunID: d.Run.ID})
	if err != nil {
		return err
	}
	v := &verifyResult{OK: rep.OK(), Runs: rep.Runs, Rows: rep.Rows}
	for i, p := range rep.Problems {
		if i == maxShownProblems {
			v.More = len(rep.Problems) - i
			break
		}
		v.Problems = append(v.Problems, clean.Text(p.String(), 500))
	}
	d.Verify = v
	return s.render(w, r, rq, http.StatusOK, "run.html", "Run", d)
}

func (s *Server) loadRun(ctx context.Context, r *http.Request) (*runData, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	run, err := queries.SelectRun(ctx, s.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	d := &runData{Run: newRunRow(*run)}
	if d.Breakdown, err = s.breakdown(ctx, run); err != nil {
		return nil, err
	}
	totals := map[string]int64{}
	type key struct{ decision, reason string }
	byReason := map[key]int64{}
	for _, b := range d.Breakdown {
		totals[b.Decision] += b.Count
		byReason[key{b.Decision, b.Reason}] += b.Count
	}
	for _, k := range decisionKinds {
		if totals[k] > 0 {
			d.Totals = append(d.Totals, decisionTotal{k, totals[k]})
		}
	}
	var bars []barInput
	for k, n := range byReason {
		label := k.decision
		if k.reason != "" {
			label += " · " + k.reason
		}
		bars = append(bars, barInput{label: label, decision: k.decision, count: n})
	}
	sort.Slice(bars, func(i, j int) bool {
		if bars[i].count != bars[j].count {
			return bars[i].count > bars[j].count
		}
		return bars[i].label < bars[j].label
	})
	d.Chart = newBarChart(bars)
	// Its decisions are made while it runs: the export covers its start
	// to its end, in the business zone.
	d.ExportFrom = civil.DateIn(run.StartedAt, s.cfg.BusinessZone).String()
	end := s.cfg.Now()
	if run.FinishedAt.Valid {
		end = run.FinishedAt.Time
	}
	d.ExportTo = civil.DateIn(end, s.cfg.BusinessZone).String()
	return d, nil
}

// breakdown is a run's decisions by stage, channel, decision and reason.
// A run that has ended never changes (its record is final, its rows
// append-only): its breakdown is kept.
func (s *Server) breakdown(ctx context.Context, run *queries.Run) ([]queries.BreakdownRow, error) {
	final := run.Status != "running"
	if final {
		if b, ok := s.runs.get(run.ID); ok {
			return b, nil
		}
	}
	b, err := queries.ConsoleRunBreakdown(ctx, s.db, run.ID)
	if err != nil {
		return nil, err
	}
	if final {
		s.runs.put(run.ID, b)
	}
	return b, nil
}

// breakdownCache keeps the breakdowns of ended runs, up to a number of
// runs.
type breakdownCache struct {
	mu    sync.Mutex
	max   int
	items map[int64][]queries.BreakdownRow
	order []int64
}

func newBreakdownCache(n int) *breakdownCache {
	return &breakdownCache{max: n, items: map[int64][]queries.BreakdownRow{}}
}

func (c *breakdownCache) get(id int64) ([]queries.BreakdownRow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.items[id]
	return b, ok
}

func (c *breakdownCache) put(id int64, b []queries.BreakdownRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[id]; ok {
		return
	}
	if len(c.order) == c.max {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
	c.items[id] = b
	c.order = append(c.order, id)
}

// pathID reads the {id} of a route.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}
