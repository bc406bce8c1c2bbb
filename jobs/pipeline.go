package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
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
	runner       *Runner
	req          Request
	policy       *policy.Policy
	businessDate civil.Date
	notBefore    time.Time // earliest send instant: as_of, or now in a backfill
	capsSince    time.Time // sends after this count for frequency caps
	selected     time.Time // when the selection began (the database's clock)
	log          *logrus.Entry
	res          *Result
	spareRows    chan *batchRows // the buffers of written batches, for the next ones

	// Owned by the writer goroutine.
	header  *audit.RunHeader
	head    string // hash of the last audit row written, or the header's
	counts  queries.BatchCounts
	reasons map[reasonKey]int64
	batches int
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
	itemCount  int64
	newPhones  []queries.PhoneParse
	existing   queries.SendSet // countable sends the batch was built with
	rows       batchRows
	buildTime  time.Duration
	steps      string // the write's step timings

	// Set when the batch is sequenced for writing.
	at          time.Time
	sendIDs     []int64             // of each message
	itemSendIDs []int64             // of each ledger item's message
	links       []queries.AuditLink // of each audit row
	prevHead    string
	head        string
}

// execute streams the candidates and runs them through the stages. A stop
// request (ctx done) lets the open batch commit within the grace period and
// ends the run with ErrInterrupted.
func (p *pipeline) execute(ctx context.Context) error {
	cfg := &p.runner.Config
	dueDates, stageNames := p.selection()
	p.capsSince = p.req.AsOf.Add(-capsWindow(cfg.Policy.Caps))
	if len(dueDates) == 0 {
		return nil
	}
	work, stopWork := graceful(ctx, cfg.GracePeriod)
	defer stopWork()
	stream, stopStream := context.WithCancel(work)
	defer stopStream()
	rows, closeSelection, err := p.openSelection(stream, dueDates, stageNames)
	if err != nil {
		return err
	}
	defer closeSelection()
	// New phone parses go to the cache (a dry run writes nothing).
	var phones *phone.CacheWriter
	if !p.req.DryRun {
		phones = phone.NewCacheWriter(work, p.runner.DB.DB, p.log)
		defer phones.Close()
	}
	return p.runStages(ctx, work, rows, stopStream, phones)
}

// openSelection starts the candidate query on a connection, and in a
// read-only transaction (one consistent snapshot), of its own; the rows hold
// them until closed.
func (p *pipeline) openSelection(ctx context.Context, dueDates []time.Time, stageNames []string) (*queries.CandidateRows, func(), error) {
	cfg := &p.runner.Config
	tx, err := p.runner.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("begin selection: %w", err)
	}
	fail := func(err error) (*queries.CandidateRows, func(), error) {
		tx.Rollback()
		return nil, nil, err
	}
	if err := setTimeouts(ctx, tx, cfg); err != nil {
		return fail(err)
	}
	if err := queries.StreamSettings(ctx, tx); err != nil {
		return fail(err)
	}
	if p.selected, err = queries.SelectionStart(ctx, tx); err != nil {
		return fail(fmt.Errorf("selection start: %w", err))
	}
	rows, err := queries.StreamCandidates(ctx, tx, queries.CandidateParams{
		DueDates: dueDates, Stages: stageNames, ShardIndex: p.req.Shard.Index, ShardCount: p.req.Shard.Count,
		DefaultPhoneRegion: cfg.DefaultPhoneRegion,
	})
	if err != nil {
		return fail(err)
	}
	return rows, func() { rows.Close(); tx.Rollback() }, nil
}

// runStages runs the candidate rows through the stages, each in its own
// goroutine, joined by channels: a reader groups the rows into batches of
// whole borrowers, builders decide, render and encode each batch's rows
// (the job's own CPU work: one builder per GOMAXPROCS, batches are
// independent), and one writer commits each batch in its own transaction.
// A stop request (ctx done) ends the reading; the batches read go on.
func (p *pipeline) runStages(ctx, work context.Context, rows *queries.CandidateRows, stopStream func(), phones *phone.CacheWriter) error {
	g, gctx := errgroup.WithContext(work)
	read := make(chan *batch)
	built := make(chan *batch)
	interrupted := false
	g.Go(func() error {
		defer close(read)
		err := p.read(ctx, gctx, rows, read)
		if errors.Is(err, errStopped) {
			interrupted = true
			stopStream()
			return nil
		}
		return err
	})
	var builders sync.WaitGroup
	for range buildWorkers() {
		builders.Add(1)
		g.Go(func() error {
			defer builders.Done()
			return p.buildAll(gctx, read, built, phones)
		})
	}
	go func() {
		builders.Wait()
		close(built)
	}()
	g.Go(func() error { return p.writeAll(gctx, built) })
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

// buildWorkers is how many batches are built at once: one per processor
// the Go scheduler runs on.
func buildWorkers() int { return runtime.GOMAXPROCS(0) }

// buildAll builds each batch read and passes it on to the writer.
func (p *pipeline) buildAll(ctx context.Context, read <-chan *batch, built chan<- *batch, phones *phone.CacheWriter) error {
	for b := range read {
		start := time.Now()
		if err := p.build(ctx, b); err != nil {
			return err
		}
		b.buildTime = time.Since(start)
		phones.Store(b.newPhones)
		b.newPhones = nil
		select {
		case built <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// read groups the streamed rows into batches of whole borrowers.
func (p *pipeline) read(stop, ctx context.Context, rows *queries.CandidateRows, out chan<- *batch) error {
	size := p.runner.Config.BatchSize
	seq := 0
	b := newBatch(seq, size)
	send := func() error {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop.Done():
			return errStopped
		}
		seq++
		b = newBatch(seq, size)
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
		if cur == nil || cur.borrower.ID != c.BorrowerID {
			if len(b.borrowers) == size {
				if err := send(); err != nil {
					return err
				}
			}
			b.borrowers = append(b.borrowers, newBorrowerInput(&c, p.runner.Config.DefaultPhoneRegion, p.runner.Config.Hasher))
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
		if !validUTF8(c.AccountRef, c.Currency, c.LoanStatus) {
			cur.borrower.BadData = policy.ReasonInvalidEncoding
		}
		b.itemArena = append(b.itemArena, itemOf(&c))
		b.refArena = append(b.refArena, c.AccountRef)
		b.stageArena = append(b.stageArena, c.Stage)
		// Capped: the next borrower's items follow in the arena. (An
		// arena that grows leaves the borrowers before on the old one.)
		n := len(b.itemArena)
		cur.items, cur.refs, cur.stages = b.itemArena[first:n:n], b.refArena[first:n:n], b.stageArena[first:n:n]
		b.itemCount++
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

// newBatch makes an empty batch for size borrowers: their items go one
// after the other in arenas, one allocation each, not a few for every
// borrower.
func newBatch(seq, size int) *batch {
	return &batch{seq: seq, borrowers: make([]borrowerInput, 0, size), ids: make([]int64, 0, size),
		itemArena: make([]policy.Item, 0, 2*size), refArena: make([]string, 0, 2*size), stageArena: make([]string, 0, 2*size)}
}

// selection lists the due dates that put an installment in a stage on the
// business date, with that stage: the candidate query joins them.
func (p *pipeline) selection() ([]time.Time, []string) {
	return Selection(p.runner.Config.Policy.Stages, p.businessDate)
}

// Selection lists the due dates that put an installment in a stage on
// businessDate, and the stage of each.
func Selection(stages policy.Stages, businessDate civil.Date) ([]time.Time, []string) {
	lo, hi := stages.Span()
	var dates []time.Time
	var names []string
	for days := lo; days <= hi; days++ {
		due := businessDate.AddDays(-days)
		if idx, ok := stages.At(due, businessDate); ok {
			dates = append(dates, due.UTC())
			names = append(names, stages[idx].Name)
		}
	}
	return dates, names
}

// build parses the batch's new phone numbers, loads what the policy needs
// from the database (existing sends, quiet windows) and builds the batch's
// rows.
func (p *pipeline) build(ctx context.Context, b *batch) error {
	b.newPhones = parsePhones(b.borrowers, p.runner.Config.Hasher)
	for _, id := range b.ids {
		b.stripes = append(b.stripes, stripeOf(id))
	}
	return p.load(ctx, b)
}

// load reads the batch's existing sends and quiet windows, in a read-only
// transaction, and builds the batch's rows.
func (p *pipeline) load(ctx context.Context, b *batch) error {
	tx, err := p.runner.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := setTimeouts(ctx, tx, &p.runner.Config); err != nil {
		return err
	}
	sends, err := queries.ExistingSends(ctx, tx, b.ids, p.capsSince)
	if err != nil {
		return err
	}
	quiet, err := queries.QuietWindows(ctx, tx, b.ids)
	if err != nil {
		return err
	}
	b.existing = queries.SendSetOf(sends)
	p.buildRows(b, sends, quiet)
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
