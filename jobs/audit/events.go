package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/loanremind/loanremind/queries"
)

// Administrative events.
const (
	EventPrune          = "prune"
	EventUnmaskedExport = "unmasked_export"
	// EventReveal: an investigator saw one borrower's contact data or one
	// message's text in the compliance console, for a recorded reason.
	EventReveal = "reveal"
)

// EventAnchor is an administrative event's hash as kept outside the
// database (the commands that record events print it): verification then
// shows the event deleted or changed, even when it is the newest, which no
// later event links to.
type EventAnchor struct {
	EventID int64
	Hash    string
}

func (a EventAnchor) String() string { return fmt.Sprintf("%d:%s", a.EventID, a.Hash) }

// RecordEvent appends an administrative event (who did what, when) to the
// events chain, and returns its anchor.
func RecordEvent(ctx context.Context, db *sql.DB, at time.Time, actor, event string, details *Object) (EventAnchor, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return EventAnchor{}, err
	}
	defer tx.Rollback()
	anchor, err := appendEvent(ctx, tx, at, actor, event, details)
	if err != nil {
		return EventAnchor{}, err
	}
	return anchor, tx.Commit()
}

func appendEvent(ctx context.Context, tx *sql.Tx, at time.Time, actor, event string, details *Object) (EventAnchor, error) {
	e := &queries.AuditEvent{At: at.Truncate(time.Microsecond).Round(0), Actor: actor, Event: event, Details: details.Text()}
	err := queries.AppendAuditEvent(ctx, tx, e, EventsGenesis, func(prev string) string {
		ev := Event{At: e.At, Actor: e.Actor, Event: e.Event, Details: e.Details, PrevHash: prev}
		return ev.Hash()
	})
	return EventAnchor{EventID: e.ID, Hash: e.Hash}, err
}

// PruneResult says what a prune removed, and the anchor of its event.
type PruneResult struct {
	Runs      int
	AuditRows int64
	Event     EventAnchor
}

// Prune deletes whole runs with a business date before `before`, and all
// they wrote, in one transaction that also records a prune event naming the
// actor, the reason and the heads of the pruned runs that remaining runs link
// to, so that verification still passes for what remains. Only the owner of
// the audit table may do this: it lifts the append-only trigger for its own
// transaction.
func Prune(ctx context.Context, db *sql.DB, before time.Time, at time.Time, actor, reason string) (PruneResult, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return PruneResult{}, err
	}
	defer tx.Rollback()
	runs, err := queries.RunsToPrune(ctx, tx, before)
	if err != nil {
		return PruneResult{}, fmt.Errorf("runs to prune: %w", err)
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	// Even with nothing to prune, lift the trigger: only the table owner
	// may, so that anyone else is refused and records no event.
	bounds, auditRows, err := queries.PruneRuns(ctx, tx, ids)
	if err != nil {
		return PruneResult{}, err
	}
	links := make([]*Object, len(bounds))
	for i, b := range bounds {
		links[i] = (&Object{}).Int("run", b.RunID).Int("prev_run_id", b.PrevRunID).String("prev_run_head", b.PrevRunHead)
	}
	// Every pruned run's head, for anchors kept outside the database that
	// name one: it was pruned, as recorded, not deleted.
	heads := make([]*Object, len(runs))
	for i, r := range runs {
		heads[i] = (&Object{}).Int("run", r.ID).String("head", r.AuditHead)
	}
	details := (&Object{}).String("before", before.Format(time.DateOnly)).String("reason", reason).
		Int("runs", int64(len(ids))).Int("audit_rows", auditRows).Objects("boundaries", links).Objects("pruned", heads)
	if len(ids) > 0 {
		details.Int("first_run", ids[0]).Int("last_run", ids[len(ids)-1])
	}
	anchor, err := appendEvent(ctx, tx, at, actor, EventPrune, details)
	if err != nil {
		return PruneResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return PruneResult{}, err
	}
	return PruneResult{Runs: len(ids), AuditRows: auditRows, Event: anchor}, nil
}

// prunes is what the prune events recorded: the chain head of each pruned
// run, by its id.
type prunes map[int64]string

// add reads the details of a prune event: the heads of every pruned run,
// and of those that remaining runs link to (all an older event recorded).
func (p prunes) add(details string) {
	var d struct {
		Boundaries []struct {
			PrevRunID   int64  `json:"prev_run_id"`
			PrevRunHead string `json:"prev_run_head"`
		} `json:"boundaries"`
		Pruned []struct {
			Run  int64  `json:"run"`
			Head string `json:"head"`
		} `json:"pruned"`
	}
	if json.Unmarshal([]byte(details), &d) != nil {
		return
	}
	for _, b := range d.Boundaries {
		p[b.PrevRunID] = b.PrevRunHead
	}
	for _, r := range d.Pruned {
		p[r.Run] = r.Head
	}
}
