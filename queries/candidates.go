package queries

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Candidate is one row of the selection: an open installment in a stage,
// with its loan, its borrower and the borrower's cached phone parse.
type Candidate struct {
	BorrowerID        int64
	FullName          string
	Phone             string
	Email             string
	Locale            string
	TimeZone          string
	Region            string
	SMSOptOut         bool
	EmailOptOut       bool
	DoNotContact      bool
	LoanID            int64
	AccountRef        string
	Currency          string
	LoanStatus        string
	InstallmentID     int64
	Seq               int
	DueDay            int32 // days since 1970-01-01
	AmountDueMinor    int64
	AmountPaidMinor   int64
	Stage             string
	PhoneCached       bool // the cache holds a parse of this number for this region
	PhoneCacheRow     bool // the cache holds a parse for the borrower (stale unless PhoneCached)
	PhoneValid        bool // PhoneValid, PhoneE164, PhoneZones: the cached parse, zero unless PhoneCached
	PhoneE164         string
	PhoneZones        string // comma-separated
	PhoneCountry      string
	PhoneSubdivisions string // comma-separated
	PhoneMAC          string // the keyed hash the job gave the cached parse
	// Decided lists (comma-separated) the channels of the stage already
	// decided for good, for an installment selected again because another
	// channel was given back (released); "" for every other row.
	Decided string
}

// CandidateParams select a run's candidates.
type CandidateParams struct {
	DueDates           []time.Time // the due dates in a stage on the business date
	Stages             []string    // the stage of each due date
	ShardIndex         int
	ShardCount         int
	DefaultPhoneRegion string
}

// CandidateRows streams the selection row by row: lib/pq reads each row
// off the connection as Next asks for it, so memory does not grow with the
// number of candidates.
type CandidateRows struct {
	rows *sql.Rows
	err  error // a row that could not be read
}

// StreamCandidates starts the candidate query on db (give it a connection
// or transaction of its own: the rows hold it until Close).
func StreamCandidates(ctx context.Context, db DBTX, p CandidateParams) (*CandidateRows, error) {
	if len(p.DueDates) != len(p.Stages) {
		return nil, fmt.Errorf("stream candidates: %d due dates for %d stages", len(p.DueDates), len(p.Stages))
	}
	dates := make([]string, len(p.DueDates))
	for i, d := range p.DueDates {
		dates[i] = d.Format(time.DateOnly)
	}
	rows, err := db.QueryContext(ctx, stmt("StreamCandidates"), pq.Array(dates), pq.Array(p.Stages),
		p.ShardIndex, p.ShardCount, p.DefaultPhoneRegion)
	if err != nil {
		return nil, fmt.Errorf("select candidates: %w", err)
	}
	return &CandidateRows{rows: rows}, nil
}

// Next reads the next row into c; false at the end or on error (see Err).
func (r *CandidateRows) Next(c *Candidate) bool {
	if !r.rows.Next() {
		return false
	}
	err := r.rows.Scan(&c.BorrowerID, &c.FullName, &c.Phone, &c.Email, &c.Locale, &c.TimeZone, &c.Region,
		&c.SMSOptOut, &c.EmailOptOut, &c.DoNotContact, &c.LoanID, &c.AccountRef, &c.Currency, &c.LoanStatus,
		&c.InstallmentID, &c.Seq, &c.DueDay, &c.AmountDueMinor, &c.AmountPaidMinor, &c.Stage,
		&c.PhoneCached, &c.PhoneCacheRow, &c.PhoneValid, &c.PhoneE164, &c.PhoneZones, &c.PhoneCountry, &c.PhoneSubdivisions, &c.PhoneMAC,
		&c.Decided)
	if err != nil {
		// The stream ends here, and the run must not take that for the
		// end of the candidates.
		r.err = fmt.Errorf("read candidates: a row cannot be read (borrower %d, installment %d, as far as it was read): %w",
			c.BorrowerID, c.InstallmentID, err)
		r.rows.Close()
		return false
	}
	if !c.PhoneCached {
		// A parse of an older number or region says nothing of this one.
		c.PhoneValid, c.PhoneE164, c.PhoneZones, c.PhoneMAC = false, "", "", ""
		c.PhoneCountry, c.PhoneSubdivisions = "", ""
	}
	return true
}

// Err returns the error that ended the stream, if any.
func (r *CandidateRows) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.rows.Err(); err != nil {
		return fmt.Errorf("read candidates: %w", err)
	}
	return nil
}

// Close ends the stream.
func (r *CandidateRows) Close() error { return r.rows.Close() }

// ExistingSend is a send that frequency caps count.
type ExistingSend struct {
	ID           int64     `db:"id"`
	BorrowerID   int64     `db:"borrower_id"`
	Channel      string    `db:"channel"`
	ScheduledFor time.Time `db:"scheduled_for"`
}

// ExistingSends returns the borrowers' countable sends scheduled after since.
func ExistingSends(ctx context.Context, db DBTX, borrowers []int64, since time.Time) ([]ExistingSend, error) {
	rows, err := db.QueryContext(ctx, stmt("ExistingSends"), pq.Array(borrowers), since)
	if err != nil {
		return nil, fmt.Errorf("existing sends: %w", err)
	}
	defer rows.Close()
	var out []ExistingSend
	for rows.Next() {
		var s ExistingSend
		if err := rows.Scan(&s.ID, &s.BorrowerID, &s.Channel, &s.ScheduledFor); err != nil {
			return nil, fmt.Errorf("existing sends: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SendSet identifies a set of sends: their number and the sum of their ids.
type SendSet struct{ Count, IDSum int64 }

// SendSetOf identifies sends.
func SendSetOf(sends []ExistingSend) SendSet {
	set := SendSet{Count: int64(len(sends))}
	for _, s := range sends {
		set.IDSum += s.ID
	}
	return set
}

// OtherSends identifies what ExistingSends would return, without the sends
// of run runID.
func OtherSends(ctx context.Context, db DBTX, borrowers []int64, since time.Time, runID int64) (SendSet, error) {
	var set SendSet
	err := db.QueryRowContext(ctx, stmt("OtherSends"), pq.Array(borrowers), since, runID).Scan(&set.Count, &set.IDSum)
	return set, err
}

// SelectionStart returns the database's time at the start of the
// selection's transaction.
func SelectionStart(ctx context.Context, db DBTX) (time.Time, error) {
	var t time.Time
	err := db.QueryRowContext(ctx, stmt("SelectionStart")).Scan(&t)
	return t, err
}

// OtherRunsSince reports whether a run other than runID may have decided
// anything since since.
func OtherRunsSince(ctx context.Context, db DBTX, runID int64, since time.Time) (bool, error) {
	var yes bool
	err := db.QueryRowContext(ctx, stmt("OtherRunsSince"), runID, since).Scan(&yes)
	return yes, err
}

// KeysDecidedTwice counts the keys of a batch, written in this transaction,
// that another run has decided the other way: sent here and finally
// decided there, or the reverse.
func KeysDecidedTwice(ctx context.Context, db DBTX, installments []int64, runID int64, sendIDs []int64) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, stmt("KeysDecidedTwice"), pq.Array(installments), runID, pq.Array(sendIDs)).Scan(&n)
	return n, err
}

// QuietWindow is a borrower_quiet_windows row.
type QuietWindow struct {
	BorrowerID int64
	Weekdays   string // comma-separated 0-6; empty: no day, unless EveryDay
	EveryDay   bool   // weekdays is NULL
	StartsAt   int32  // seconds since midnight
	EndsAt     int32
	ValidFrom  int32 // days since 1970-01-01, 0: open
	ValidTo    int32
}

// QuietWindows returns the borrowers' quiet windows.
func QuietWindows(ctx context.Context, db DBTX, borrowers []int64) ([]QuietWindow, error) {
	rows, err := db.QueryContext(ctx, stmt("QuietWindows"), pq.Array(borrowers))
	if err != nil {
		return nil, fmt.Errorf("quiet windows: %w", err)
	}
	defer rows.Close()
	var out []QuietWindow
	for rows.Next() {
		var q QuietWindow
		if err := rows.Scan(&q.BorrowerID, &q.Weekdays, &q.EveryDay, &q.StartsAt, &q.EndsAt, &q.ValidFrom, &q.ValidTo); err != nil {
			return nil, fmt.Errorf("quiet windows: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// Holiday is a holidays row.
type Holiday struct {
	Region string
	Day    int32 // days since 1970-01-01
}

// Holidays returns the holidays between two dates, inclusive.
func Holidays(ctx context.Context, db DBTX, from, to time.Time) ([]Holiday, error) {
	rows, err := db.QueryContext(ctx, stmt("Holidays"), from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("holidays: %w", err)
	}
	defer rows.Close()
	var out []Holiday
	for rows.Next() {
		var h Holiday
		if err := rows.Scan(&h.Region, &h.Day); err != nil {
			return nil, fmt.Errorf("holidays: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ClaimedKey is an installment and stage already decided.
type ClaimedKey struct {
	InstallmentID int64
	Stage         string
}

// ClaimedChannel is a key already decided: an installment, stage and
// channel.
type ClaimedChannel struct {
	ClaimedKey
	Channel string
}

// ClaimedKeys returns which of the installments already have a send item or
// a final decision, with the stage and channel.
func ClaimedKeys(ctx context.Context, db DBTX, installments []int64) ([]ClaimedChannel, error) {
	rows, err := db.QueryContext(ctx, stmt("ClaimedKeys"), pq.Array(installments))
	if err != nil {
		return nil, fmt.Errorf("claimed keys: %w", err)
	}
	defer rows.Close()
	var out []ClaimedChannel
	for rows.Next() {
		var k ClaimedChannel
		if err := rows.Scan(&k.InstallmentID, &k.Stage, &k.Channel); err != nil {
			return nil, fmt.Errorf("claimed keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
