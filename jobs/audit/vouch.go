package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/loanremind/loanremind/queries"
)

// MessageDigest is the hash that a queued or deferred audit row keeps of
// its message, in its details as "message_sha256": what the sender will
// use (the channel, the recipient, the subject, the body and the window).
// The database computes the same hash from a reminder_sends row with
// reminder_message_sha256 (migration 00007), so that verification and the
// sender can tell a message the job wrote from one planted or changed
// behind its back. Each text is its length in bytes, a colon and its
// bytes; each time its Unix microseconds and a semicolon.
func MessageDigest(channel, recipient, subject, body string, scheduledFor, validUntil time.Time) string {
	b := make([]byte, 0, 64+len(recipient)+len(subject)+len(body))
	b = append(b, "loanremind.message.v1"...)
	for _, s := range [...]string{channel, recipient, subject, body} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	for _, t := range [...]time.Time{scheduledFor, validUntil} {
		b = strconv.AppendInt(b, t.UnixMicro(), 10)
		b = append(b, ';')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// vouchedDetails is what vouching reads of an audit row's details.
type vouchedDetails struct {
	MessageSHA256   string `json:"message_sha256"`
	AmountDueMinor  int64  `json:"amount_due_minor"`
	AmountPaidMinor int64  `json:"amount_paid_minor"`
}

// Vouch says, for each message, whether the audit chain vouches for it
// exactly as it stands: every installment its ledger names was queued or
// deferred for it by an audit row of its run that holds its recipient,
// body and window (by MessageDigest), and each such row is whole (its
// content matches its hash) and linked into its run's chain (the rows
// before and after it link to it, or it is the run's recorded head). It
// returns the reason for every message it does not vouch for; a message
// not in the map is vouched for. The sender calls it before it claims a
// message: one it does not vouch for was written behind the job's back.
//
// Vouching does not walk the whole chain (audit verify does): a row
// inserted into the chain of a run still writing, with its record's head
// changed to match, passes until the run writes its next batch.
func Vouch(ctx context.Context, db queries.DBTX, sendIDs []int64) (map[int64]string, error) {
	refused := make(map[int64]string)
	if len(sendIDs) == 0 {
		return refused, nil
	}
	sends, err := queries.SendsToVouch(ctx, db, sendIDs)
	if err != nil {
		return nil, fmt.Errorf("vouch: %w", err)
	}
	byID := make(map[int64]*queries.SendToVouch, len(sends))
	for i := range sends {
		byID[sends[i].ID] = &sends[i]
	}
	for _, id := range sendIDs {
		if s, ok := byID[id]; !ok {
			refused[id] = "no such message"
		} else if s.Items == 0 {
			refused[id] = "the ledger names no installment for it"
		}
	}
	rows, err := queries.VouchingRows(ctx, db, sendIDs)
	if err != nil {
		return nil, fmt.Errorf("vouch: %w", err)
	}
	runs := map[int64]*vouchRun{}
	type itemKey struct {
		installment  int64
		stage, chann string
	}
	vouched := map[int64]map[itemKey]bool{}
	firstFault := map[int64]string{}
	for i := range rows {
		r := &rows[i]
		s := byID[r.SendID]
		if s == nil {
			continue
		}
		run, err := runOf(ctx, db, runs, r.RunID)
		if err != nil {
			return nil, err
		}
		fault := checkVouchingRow(r, s, run)
		key := itemKey{r.ItemInstallmentID, r.ItemStage, r.ItemChannel}
		if fault == "" {
			if vouched[s.ID] == nil {
				vouched[s.ID] = map[itemKey]bool{}
			}
			vouched[s.ID][key] = true
		} else if _, ok := firstFault[s.ID]; !ok {
			firstFault[s.ID] = fault
		}
	}
	for i := range sends {
		s := &sends[i]
		if _, ok := refused[s.ID]; ok || len(vouched[s.ID]) == s.Items {
			continue
		}
		if f, ok := firstFault[s.ID]; ok {
			refused[s.ID] = f
		} else {
			refused[s.ID] = fmt.Sprintf("%d of its %d ledger items have no audit row of run %d that queued them for it", s.Items-len(vouched[s.ID]), s.Items, s.RunID)
		}
	}
	return refused, nil
}

// vouchRun is what vouching needs of a run: its header's hash (the first
// row's link) and its recorded chain head (the last row's hash).
type vouchRun struct {
	genesis, head string
	found         bool
}

func runOf(ctx context.Context, db queries.DBTX, runs map[int64]*vouchRun, id int64) (*vouchRun, error) {
	if r, ok := runs[id]; ok {
		return r, nil
	}
	r := &vouchRun{}
	run, err := queries.SelectRun(ctx, db, id)
	switch {
	case err == nil:
		r.genesis, r.head, r.found = HeaderOf(run).Hash(), run.AuditHead, true
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("vouch: %w", err)
	}
	runs[id] = r
	return r, nil
}

// checkVouchingRow says what is wrong with an audit row as a voucher for
// message s's item, or "" when nothing is.
func checkVouchingRow(r *queries.VouchingRow, s *queries.SendToVouch, run *vouchRun) string {
	row := Row{
		RunID: r.RunID, At: r.At, BorrowerID: r.BorrowerID, LoanID: r.LoanID, InstallmentID: r.InstallmentID,
		Stage: r.Stage, Channel: r.Channel, Decision: r.Decision, Reason: r.Reason, SendID: r.SendRef,
		ScheduledFor: readBack(r.ScheduledFor), ValidUntil: readBack(r.ValidUntil), TimeZones: r.TimeZones,
		PolicySHA256: r.PolicySHA256, Details: r.Details, PrevHash: r.PrevHash,
	}
	var d vouchedDetails
	switch {
	case !run.found:
		return fmt.Sprintf("its run %d has no run record", r.RunID)
	case row.Hash() != r.Hash:
		return fmt.Sprintf("audit row %d does not match its hash: it was edited", r.ID)
	case r.HashBefore == "" && r.PrevHash != run.genesis, r.HashBefore != "" && r.PrevHash != r.HashBefore:
		return fmt.Sprintf("audit row %d does not link to the row before it: it was inserted", r.ID)
	case r.LinkAfter == "" && r.Hash != run.head, r.LinkAfter != "" && r.LinkAfter != r.Hash:
		return fmt.Sprintf("audit row %d is not linked to by the chain after it: it was inserted", r.ID)
	case r.Decision != "queued" && r.Decision != "deferred":
		return fmt.Sprintf("audit row %d %s the installment, it did not queue it", r.ID, r.Decision)
	case r.BorrowerID != s.BorrowerID || r.Channel != s.Channel || r.LoanID != r.ItemLoanID ||
		r.Stage != r.ItemStage || r.Channel != r.ItemChannel:
		return fmt.Sprintf("audit row %d decided another borrower, loan, stage or channel", r.ID)
	case !sameTime(r.ScheduledFor, s.ScheduledFor) || !sameTime(r.ValidUntil, s.ValidUntil):
		return fmt.Sprintf("audit row %d gives another window: the message's window was changed", r.ID)
	case json.Unmarshal([]byte(r.Details), &d) != nil:
		return fmt.Sprintf("audit row %d has unreadable details", r.ID)
	case d.MessageSHA256 != s.Digest:
		return fmt.Sprintf("audit row %d holds another message hash: the message's recipient, subject, body or window was changed", r.ID)
	case d.AmountDueMinor-d.AmountPaidMinor != r.ItemAmountMinor:
		return fmt.Sprintf("audit row %d gives another amount for installment %d", r.ID, r.ItemInstallmentID)
	}
	return ""
}

func sameTime(a sql.NullTime, b time.Time) bool { return a.Valid && a.Time.Equal(b) }
