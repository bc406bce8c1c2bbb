package seed

import (
	"context"
	"runtime"
	"sync"
)

// chunk holds the rows of borrowers [lo, hi). Loan, installment and quiet
// window ids are numbered from 1 within the chunk by the worker and offset
// by the stream, in order.
type chunk struct {
	lo, hi       int64
	borrowers    []Borrower
	loans        []Loan
	installments []Installment
	quiet        []QuietWindow
	counts       caseCounts
	plan         borrowerPlan
}

func (c *chunk) reset(lo, hi int64) {
	c.lo, c.hi = lo, hi
	c.borrowers = c.borrowers[:0]
	c.loans = c.loans[:0]
	c.installments = c.installments[:0]
	c.quiet = c.quiet[:0]
	c.counts = caseCounts{}
}

// fill generates the chunk's rows.
func (w *worker) fill(c *chunk) {
	for id := c.lo; id < c.hi; id++ {
		w.plan(id, &c.plan)
		w.build(&c.plan, c)
	}
}

func defaultWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }

// job is one chunk on its way through the workers; done is closed when the
// chunk is filled.
type job struct {
	c    *chunk
	done chan struct{}
}

// stream generates the chunks in goroutines and hands them out in order.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	order  chan *job
	free   chan *chunk
	wg     sync.WaitGroup
	// ids already handed out before the next chunk
	loans, installments, quiet int64
}

// start begins generating; the caller must call stop.
func (g *generator) start(ctx context.Context) *stream {
	ctx, cancel := context.WithCancel(ctx)
	ahead := 2 * g.workers
	s := &stream{
		ctx:    ctx,
		cancel: cancel,
		order:  make(chan *job, ahead),
		free:   make(chan *chunk, ahead+g.workers+1),
	}
	jobs := make(chan *job)
	s.wg.Add(1 + g.workers)
	go func() {
		defer s.wg.Done()
		defer close(jobs)
		defer close(s.order)
		n := int64(g.opts.Borrowers)
		for lo := int64(1); lo <= n; lo += int64(g.chunkSize) {
			var c *chunk
			select {
			case c = <-s.free:
			default:
				c = new(chunk)
			}
			c.reset(lo, min(lo+int64(g.chunkSize), n+1))
			j := &job{c: c, done: make(chan struct{})}
			// order first: the consumer waits on j.done, so j must reach a
			// worker once it is in order.
			select {
			case s.order <- j:
			case <-ctx.Done():
				return
			}
			jobs <- j
		}
	}()
	for range g.workers {
		go func() {
			defer s.wg.Done()
			w := g.newWorker()
			for j := range jobs {
				if ctx.Err() == nil {
					w.fill(j.c)
				}
				close(j.done)
			}
		}()
	}
	return s
}

// next returns the next chunk in borrower order with its ids offset, or nil
// after the last one. The chunk is the caller's until release.
func (s *stream) next() (*chunk, error) {
	var j *job
	select {
	case j = <-s.order:
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
	if j == nil {
		return nil, nil
	}
	select {
	case <-j.done:
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
	c := j.c
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	for i := range c.loans {
		c.loans[i].ID += s.loans
	}
	for i := range c.installments {
		c.installments[i].ID += s.installments
		c.installments[i].LoanID += s.loans
	}
	for i := range c.quiet {
		c.quiet[i].ID += s.quiet
	}
	s.loans += int64(len(c.loans))
	s.installments += int64(len(c.installments))
	s.quiet += int64(len(c.quiet))
	return c, nil
}

// release gives a chunk back for reuse.
func (s *stream) release(c *chunk) {
	select {
	case s.free <- c:
	default:
	}
}

// stop ends generation and waits for the goroutines.
func (s *stream) stop() {
	// A dispatcher blocked on order sees the cancel; the workers finish the
	// jobs they hold and exit when it closes jobs.
	s.cancel()
	s.wg.Wait()
}
