package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/loanremind/loanremind/queries"
)

// verifyDeliveries checks the delivery trail. Verifying everything walks
// every delivery session's chain, in one consistent snapshot, and reports
// an edited event (its content no longer matches its hash), a deleted or
// inserted one (the links around it break, or the session record's count
// and head disagree), a session whose record is missing, and a session
// that links to an earlier one that is missing or whose chain no longer
// passes through the head it recorded. For the selected runs (nil: all)
// it reports every message whose status the trail does not account for,
// and every ledger item given back for a second plan without an expiry
// and an audit row to vouch for it.
func verifyDeliveries(ctx context.Context, db DB, runIDs []int64, everything bool, rep *Report) error {
	untrailed, err := queries.StatusesWithoutTrail(ctx, db, runIDs, maxProblems)
	if err != nil {
		return fmt.Errorf("verify the outbox's statuses: %w", err)
	}
	for _, s := range untrailed {
		rep.add(Problem{RunID: s.RunID, Table: "reminder_sends", Key: strconv.FormatInt(s.ID, 10),
			What: fmt.Sprintf("its status is %s, but the delivery trail shows no such event: it was changed behind the sender's back", s.Status)})
	}
	releases, err := queries.UnvouchedReleases(ctx, db, runIDs, maxProblems)
	if err != nil {
		return fmt.Errorf("verify released ledger items: %w", err)
	}
	for _, k := range releases {
		rep.add(Problem{RunID: k.RunID, Table: "reminder_released_items",
			Key:  fmt.Sprintf("(send %d, installment %d, %s, %s)", k.SendID, k.InstallmentID, k.Stage, k.Channel),
			What: "released for a second plan, but its message did not expire as the trail shows, or no audit row queued it: it was written behind the sender's back and would let the installment be reminded again"})
	}
	if !everything {
		return nil
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sessions, err := queries.DeliverySessions(ctx, tx)
	if err != nil {
		return fmt.Errorf("verify delivery sessions: %w", err)
	}
	known := map[int64]bool{}
	// What later sessions say each session's chain passed through.
	type checkpoint struct {
		by, rows int64
		head     string
	}
	checkpoints := map[int64][]checkpoint{}
	for _, s := range sessions {
		known[s.ID] = true
		if s.PrevSessionID != 0 {
			checkpoints[s.PrevSessionID] = append(checkpoints[s.PrevSessionID], checkpoint{s.ID, s.PrevSessionRows, s.PrevSessionHead})
		}
	}
	for _, s := range sessions {
		if s.PrevSessionID != 0 && !known[s.PrevSessionID] {
			rep.add(Problem{Table: "reminder_delivery_sessions", Key: strconv.FormatInt(s.ID, 10),
				What: fmt.Sprintf("links to delivery session %d, which is missing: it was deleted", s.PrevSessionID)})
		}
	}
	var (
		i        = -1
		cur      *queries.DeliverySession
		prev     string
		prevPrev string
		prevID   int64
		n        int64
		broken   bool
	)
	problem := func(key, what string) {
		rep.add(Problem{Table: "reminder_deliveries", Key: key, What: what})
	}
	// finish checks the walked session against its record and what later
	// sessions recorded of it at its end.
	finish := func() {
		if cur == nil {
			return
		}
		rep.DeliverySessions++
		switch {
		case n < cur.Events:
			problem(fmt.Sprintf("session %d", cur.ID), fmt.Sprintf("the session record says %d events, the trail holds %d: events were deleted", cur.Events, n))
		case n > cur.Events:
			problem(fmt.Sprintf("session %d", cur.ID), fmt.Sprintf("the session record says %d events, the trail holds %d: events were inserted", cur.Events, n))
		case prev != cur.Head:
			problem(fmt.Sprintf("session %d", cur.ID), fmt.Sprintf("the chain ends at %.12s…, the session record says %.12s…", prev, cur.Head))
		}
		for _, c := range checkpoints[cur.ID] {
			if c.rows > n {
				problem(fmt.Sprintf("session %d", cur.ID), fmt.Sprintf("session %d recorded it at %d events, it holds %d: events were deleted", c.by, c.rows, n))
			}
		}
	}
	// next moves to the session with this id, finishing those before it
	// (a session without events included).
	next := func(id int64) bool {
		for cur == nil || cur.ID < id {
			finish()
			i++
			if i >= len(sessions) {
				cur = nil
				return false
			}
			cur = &sessions[i]
			prev, prevPrev, prevID, n, broken = DeliverySessionOf(cur).Hash(), "", 0, 0, false
			for _, c := range checkpoints[cur.ID] {
				if c.rows == 0 && c.head != prev {
					problem(fmt.Sprintf("session %d", cur.ID), fmt.Sprintf("session %d recorded it empty with another genesis: its header was changed", c.by))
				}
			}
		}
		return cur.ID == id
	}
	err = queries.ReadDeliveryChains(ctx, tx, 0, func(r *queries.DeliveryRow) error {
		if !next(r.SessionID) {
			return nil // an orphan: reported below
		}
		n++
		rep.Deliveries++
		key := fmt.Sprintf("session %d, row %d", r.SessionID, r.ID)
		if DeliveryOf(r).Hash() != r.Hash {
			problem(key, "its content does not match its hash: the event was edited")
		}
		if r.PrevHash != prev && !broken {
			switch {
			case prevID != 0 && r.PrevHash == prevPrev:
				problem(fmt.Sprintf("session %d, row %d", r.SessionID, prevID), "is not part of the chain (the next event links past it): the event was inserted")
			case prevID == 0:
				problem(key, "the first event does not link to its session's header: events before it were deleted, or the session record was edited")
			default:
				problem(key, fmt.Sprintf("does not link to event %d before it: events between them were deleted, or this event was inserted", prevID))
			}
			broken = true
		}
		prevPrev, prev, prevID = prev, r.Hash, r.ID
		for _, c := range checkpoints[r.SessionID] {
			if c.rows == n && c.head != r.Hash {
				problem(key, fmt.Sprintf("session %d recorded this session's chain at %.12s… here: events up to it were changed", c.by, c.head))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify the delivery trail: %w", err)
	}
	for next(1 << 62) {
	}
	finish()
	orphans, err := queries.OrphanDeliverySessions(ctx, tx)
	if err != nil {
		return fmt.Errorf("verify delivery sessions: %w", err)
	}
	for _, id := range orphans {
		rep.add(Problem{Table: "reminder_delivery_sessions", Key: strconv.FormatInt(id, 10),
			What: "events name this delivery session, but it has no record: the record was deleted"})
	}
	return nil
}
