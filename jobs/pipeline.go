package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// pipeline is the state of one run.
type pipeline struct {
	runner    *Runner
	req       Request
	policy    *policy.Policy
	bd        civil.Date
	notBefore time.Time // earliest send instant: as_of, or now in a backfill
	capsSince time.Time // sends after this count for frequency caps
	selected  time.Time // when the selection began (the database's clock)
	log       *logrus.Entry
	res       *Result
	plans     chan *batchPlan // the buffers of written plans, for the next ones

	// Owned by the writer goroutine.
	header  *audit.RunHeader
	head    string // hash of the last audit row written, or the header's
	counts  queries.BatchCounts
	reasons map[reasonKey]int64
	batches int
}

// borrowerInput is one borrower's candidate items, as selected.
type borrowerInput struct {
	b      policy.Borrower
	name   string
	locale string
	items  []policy.Item
	refs   []string // account reference of each item's loan
	stages []string // stage of each item, as selected
	phone  phone.Lookup
}

// batch is a group of whole borrowers, written in one transaction.
type batch struct {
	seq       int
	borrowers []borrowerInput
	// The borrowers' items, account references and stages, in order.
	itemArena  []policy.Item
	refArena   []string
	stageArena []string
	ids        []int64
	stripes    []int32
	items      int64
	newPhones  []queries.PhoneParse
	existing   queries.SendSet // countable sends the batch was planned with
	plan       batchPlan
	prepared   time.Duration
	steps      string // the write's step timings
	attempts   int

	// Set when the batch is sequenced for writing.
	at          time.Time
	sendIDs     []int64             // of each message
	itemSendIDs []int64             // of each ledger item's message
	links       []queries.AuditLink // of each audit row
	prevHead    string
	head        string
}

// execute streams the candidates and runs them through the stages: a reader
// groups rows into batches of whole borrowers, a planner decides and renders
// them, and a writer commits each batch in its own transaction. A stop
// request (ctx done) lets the open batch commit within the grace period and
// ends the run with ErrInterrupted.
func (p *pipeline) execute(ctx context.Context) error {
	cfg := &p.runner.Config
	dueDates, stageNames := p.selection()
	p.capsSince = p.req.AsOf.Add(-maxCapWindow(cfg.Policy.Caps))
	if len(dueDates) == 0 {
		return nil
	}
	work, stopWork := graceful(ctx, cfg.GracePeriod)
	defer stopWork()

	// The candidate query holds a connection (and a read-only transaction,
	// for one consistent snapshot) of its own.
	stream, cancelStream := context.WithCancel(work)
	defer cancelStream()
	tx, err := p.runner.DB.BeginTxx(stream, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin selection: %w", err)
	}
	defer tx.Rollback()
	if err := setTimeouts(stream, tx, cfg); err != nil {
		return err
	}
	if err := queries.StreamSettings(stream, tx); err != nil {
		return err
	}
	if p.selected, err = queries.SelectionStart(stream, tx); err != nil {
		return fmt.Errorf("selection start: %w", err)
	}
	rows, err := queries.StreamCandidates(stream, tx, queries.CandidateParams{
		DueDates: dueDates, Stages: stageNames, ShardIndex: p.req.Shard.Index, ShardCount: p.req.Shard.Count,
		DefaultPhoneRegion: cfg.DefaultPhoneRegion,
	})
	if err != nil {
		return err
	}
	defer rows.Close()

	// New phone parses go to the cache (a dry run writes nothing).
	var phones *phone.CacheWriter
	if !p.req.DryRun {
		phones = phone.NewCacheWriter(work, p.runner.DB.DB, p.log)
		defer phones.Close()
	}

	g, gctx := errgroup.WithContext(work)
	raw := make(chan *batch)
	planned := make(chan *batch)
	interrupted := false
	g.Go(func() error {
		defer close(raw)
		err := p.read(ctx, gctx, rows, raw)
		if errors.Is(err, errStopped) {
			interrupted = true
			cancelStream()
			return nil
		}
		return err
	})
	// Two planners: phone parsing, deciding and rendering a batch is the
	// job's own CPU work, and batches are independent.
	var planners sync.WaitGroup
	for range planningWorkers {
		planners.Add(1)
		g.Go(func() error {
			defer planners.Done()
			for b := range raw {
				start := time.Now()
				if err := p.prepare(gctx, b); err != nil {
					return err
				}
				b.prepared = time.Since(start)
				phones.Store(b.newPhones)
				b.newPhones = nil
				select {
				case planned <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		planners.Wait()
		close(planned)
	}()
	g.Go(func() error { return p.writeAll(gctx, planned) })
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ErrInterrupted, err)
		}
		return err
	}
	if interrupted {
		return ErrInterrupted
	}
	return nil
}

var errStopped = errors.New("stop requested")

// planningWorkers is how many batches are planned at once.
const planningWorkers = 2

// read groups the streamed rows into batches of whole borrowers.
func (p *pipeline) read(stop, ctx context.Context, rows *queries.CandidateRows, out chan<- *batch) error {
	size := p.runner.Config.BatchSize
	seq := 0
	// A batch's borrowers, and their items one after the other: one
	// allocation each, not a few for every borrower.
	newBatch := func(seq int) *batch {
		return &batch{seq: seq, borrowers: make([]borrowerInput, 0, size), ids: make([]int64, 0, size),
			itemArena: make([]policy.Item, 0, 2*size), refArena: make([]string, 0, 2*size), stageArena: make([]string, 0, 2*size)}
	}
	b := newBatch(seq)
	send := func() error {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop.Done():
			return errStopped
		}
		seq++
		b = newBatch(seq)
		return nil
	}
	var c queries.Candidate
	var cur *borrowerInput
	first := 0 // where cur's items start in the arenas
	repeats := 0
	defer func() {
		if repeats > 0 {
			p.log.WithField("rows", repeats).Warn("the candidate query returned installments more than once (a view joining them to several rows?): each was decided once")
		}
	}()
	for rows.Next(&c) {
		if stop.Err() != nil {
			return errStopped
		}
		if cur == nil || cur.b.ID != c.BorrowerID {
			if len(b.borrowers) == size {
				if err := send(); err != nil {
					return err
				}
			}
			b.borrowers = append(b.borrowers, p.newBorrower(&c))
			b.ids = append(b.ids, c.BorrowerID)
			cur = &b.borrowers[len(b.borrowers)-1]
			first = len(b.itemArena)
		} else if last := len(cur.items) - 1; cur.items[last].InstallmentID == c.InstallmentID && cur.stages[last] == c.Stage {
			// The same installment again (a lender's view that joins it
			// to two rows; the order puts repeats together): it is
			// decided once.
			repeats++
			continue
		}
		b.itemArena = append(b.itemArena, policy.Item{
			InstallmentID: c.InstallmentID, LoanID: c.LoanID, Seq: c.Seq, DueDate: civil.Date(c.DueDay),
			AmountDueMinor: c.AmountDueMinor, AmountPaidMinor: c.AmountPaidMinor, Currency: c.Currency,
			LoanStatus: c.LoanStatus,
		})
		b.refArena = append(b.refArena, c.AccountRef)
		b.stageArena = append(b.stageArena, c.Stage)
		// Capped: the next borrower's items follow in the arena. (An
		// arena that grows leaves the borrowers before on the old one.)
		n := len(b.itemArena)
		cur.items, cur.refs, cur.stages = b.itemArena[first:n:n], b.refArena[first:n:n], b.stageArena[first:n:n]
		b.items++
	}
	if err := rows.Err(); err != nil {
		if stop.Err() != nil {
			return errStopped
		}
		return err
	}
	if len(b.borrowers) > 0 {
		return send()
	}
	return nil
}

func (p *pipeline) newBorrower(c *queries.Candidate) borrowerInput {
	in := borrowerInput{
		b: policy.Borrower{
			ID: c.BorrowerID, TimeZone: c.TimeZone, Region: c.Region, Email: c.Email,
			SMSOptOut: c.SMSOptOut, EmailOptOut: c.EmailOptOut, DoNotContact: c.DoNotContact,
		},
		name:   c.FullName,
		locale: c.Locale,
	}
	in.b.Phone, in.phone = phone.FromCandidate(c, p.runner.Config.DefaultPhoneRegion)
	return in
}

// selection lists the due dates that put an installment in a stage on the
// business date, with that stage: the candidate query joins them.
func (p *pipeline) selection() ([]time.Time, []string) {
	return Selection(p.runner.Config.Policy.Stages, p.bd)
}

// Selection lists the due dates that put an installment in a stage on
// business date bd, and the stage of each.
func Selection(stages policy.Stages, bd civil.Date) ([]time.Time, []string) {
	lo, hi := stages.Span()
	var dates []time.Time
	var names []string
	for days := lo; days <= hi; days++ {
		due := bd.AddDays(-days)
		if idx, ok := stages.At(due, bd); ok {
			dates = append(dates, due.UTC())
			names = append(names, stages[idx].Name)
		}
	}
	return dates, names
}

// prepare parses the batch's new phone numbers, loads what the policy needs
// from the database (existing sends, quiet windows) and plans the batch.
func (p *pipeline) prepare(ctx context.Context, b *batch) error {
	p.parsePhones(b)
	for _, id := range b.ids {
		b.stripes = append(b.stripes, stripeOf(id))
	}
	return p.load(ctx, b)
}

// load reads the batch's existing sends and quiet windows, in a read-only
// transaction, and plans the batch.
func (p *pipeline) load(ctx context.Context, b *batch) error {
	tx, err := p.runner.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := setTimeouts(ctx, tx, &p.runner.Config); err != nil {
		return err
	}
	db := tx
	sends, err := queries.ExistingSends(ctx, db, b.ids, p.capsSince)
	if err != nil {
		return err
	}
	quiet, err := queries.QuietWindows(ctx, db, b.ids)
	if err != nil {
		return err
	}
	b.existing = queries.SendSetOf(sends)
	p.planBatch(b, sends, quiet)
	return nil
}

// graceful returns a context for work in progress: it ends grace after ctx
// does (or when stop is called), so that a stop request lets the open batch
// commit or roll back cleanly.
func graceful(ctx context.Context, grace time.Duration) (context.Context, func()) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-done:
			}
		case <-done:
		}
	}()
	return work, func() { close(done); cancel() }
}

// setTimeouts applies the configured lock and statement timeouts (and the
// planner settings of every job transaction) to a transaction.
func setTimeouts(ctx context.Context, tx queries.DBTX, cfg *Config) error {
	return queries.SetLocalSettings(ctx, tx, cfg.LockTimeout, cfg.StatementTimeout)
}

func maxCapWindow(caps []policy.Cap) time.Duration {
	var d time.Duration
	for _, c := range caps {
		d = max(d, c.Per)
	}
	return d
}

// progress logs batch progress at most every few seconds.
type progress struct {
	p    *pipeline
	last time.Time
}

func newProgress(p *pipeline) *progress { return &progress{p: p, last: p.runner.Now()} }

func (pr *progress) batch(b *batch) {
	now := pr.p.runner.Now()
	if now.Sub(pr.last) < 5*time.Second {
		return
	}
	pr.last = now
	pr.p.log.WithFields(logrus.Fields{FieldBatch: b.seq, "candidates": pr.p.counts.Candidates,
		"messages": pr.p.counts.Messages}).Info("progress")
}
