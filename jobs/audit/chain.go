// Package audit makes the audit trail tamper-evident and readable: the
// canonical encoding and SHA-256 hash chain of audit rows (NIST SP 800-53
// AU-9(3)), and the verify, export and prune operations compliance staff
// run.
//
// Each run's audit rows form one chain, in id order. The first row's
// prev_hash is the hash of the run's header (who ran it, when, as of when,
// under which configuration, and the head of the previous run of the same
// lane and shard); each row's hash covers its content and prev_hash; the run
// record keeps the chain's length and head, updated in the transaction that
// writes each batch, and at the end a seal over its final status and counts.
// Changing, deleting or inserting any row or run therefore breaks a link
// that Verify reports, even when the change bypassed the append-only trigger.
package audit

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/loanremind/loanremind/queries"
)

// Row is the hashed content of one reminder_audit row (its id is assigned
// by the database and is not hashed: order is).
type Row struct {
	RunID         int64
	At            time.Time // microsecond precision, as stored
	BorrowerID    int64
	LoanID        int64
	InstallmentID int64
	Stage         string
	Channel       string
	Decision      string
	Reason        string
	SendID        int64     // 0: none
	ScheduledFor  time.Time // zero: none
	ValidUntil    time.Time // zero: none
	TimeZones     string    // jsonb text
	PolicySHA256  string
	Details       string // jsonb text
	PrevHash      string
}

// Hash returns the row's hash: hex SHA-256 over its canonical encoding.
func (r *Row) Hash() string {
	var buf [1024]byte
	return sum(appendRow(buf[:0], r.RunID, r.At, r.BorrowerID, r.LoanID, r.InstallmentID, r.Stage, r.Channel,
		r.Decision, r.Reason, r.SendID, r.ScheduledFor, r.ValidUntil, r.TimeZones, r.PolicySHA256, r.Details, r.PrevHash))
}

// appendRow appends the canonical encoding of an audit row, from strings
// (the job writing it) or from the driver's bytes (verification reading it).
// The parts fixed when the row is planned are encoded by appendDecided and
// appendOutcome, so that the job can encode them ahead of the write (see
// Planned).
func appendRow[S ~string | ~[]byte](b []byte, runID int64, at time.Time, borrowerID, loanID, installmentID int64,
	stage, channel, decision, reason S, sendID int64, scheduledFor, validUntil time.Time,
	timeZones, policySHA256, details, prevHash S) []byte {
	b = appendHead(b, runID, at)
	b = appendDecided(b, borrowerID, loanID, installmentID, stage, channel, decision, reason)
	b = appendInt(b, sendID)
	b = appendOutcome(b, scheduledFor, validUntil, timeZones, policySHA256, details)
	return appendStr(b, prevHash)
}

func appendHead(b []byte, runID int64, at time.Time) []byte {
	b = append(b, "loanremind.audit.v1"...)
	b = appendInt(b, runID)
	return appendTime(b, at)
}

func appendDecided[S ~string | ~[]byte](b []byte, borrowerID, loanID, installmentID int64, stage, channel, decision, reason S) []byte {
	b = appendInt(b, borrowerID)
	b = appendInt(b, loanID)
	b = appendInt(b, installmentID)
	b = appendStr(b, stage)
	b = appendStr(b, channel)
	b = appendStr(b, decision)
	return appendStr(b, reason)
}

func appendOutcome[S ~string | ~[]byte](b []byte, scheduledFor, validUntil time.Time, timeZones, policySHA256, details S) []byte {
	b = appendTime(b, scheduledFor)
	b = appendTime(b, validUntil)
	b = appendStr(b, timeZones)
	b = appendStr(b, policySHA256)
	return appendStr(b, details)
}

// Planned locates in an arena the part of a row's canonical encoding fixed
// when the row is planned: all but its run, time, message and link, which
// are known only when the row's batch is sequenced for writing.
type Planned struct {
	start, mid, end int32
}

// Plan encodes the planned part of r (its RunID, At, SendID and PrevHash
// are ignored) onto arena, and returns where, and the grown arena.
func (r *Row) Plan(arena []byte) (Planned, []byte) {
	p := Planned{start: int32(len(arena))}
	arena = appendDecided(arena, r.BorrowerID, r.LoanID, r.InstallmentID, r.Stage, r.Channel, r.Decision, r.Reason)
	p.mid = int32(len(arena))
	arena = appendOutcome(arena, r.ScheduledFor, r.ValidUntil, r.TimeZones, r.PolicySHA256, r.Details)
	p.end = int32(len(arena))
	return p, arena
}

// Hash writes to out the hex hash of the planned row (in arena) with the
// rest of its content, as Row.Hash would.
func (p Planned) Hash(arena []byte, runID int64, at time.Time, sendID int64, prevHash []byte, out *[2 * sha256.Size]byte) {
	var buf [1024]byte
	b := appendHead(buf[:0], runID, at)
	b = append(b, arena[p.start:p.mid]...)
	b = appendInt(b, sendID)
	b = append(b, arena[p.mid:p.end]...)
	b = appendStr(b, prevHash)
	sum := sha256.Sum256(b)
	hex.Encode(out[:], sum[:])
}

// RunHeader is the part of a run record fixed when the run starts.
type RunHeader struct {
	ID              int64
	Mode            string
	AsOf            time.Time
	BusinessDate    string // YYYY-MM-DD
	ShardIndex      int
	ShardCount      int
	Actor           string
	Reason          string
	Host            string
	StartedAt       time.Time
	SendLate        bool
	ConfigSHA256    string
	PolicySHA256    string
	TemplatesSHA256 string
	Version         string
	PrevRunID       int64 // 0: none
	PrevRunHead     string
}

// Hash is the genesis of the run's chain: the first audit row's prev_hash.
func (h *RunHeader) Hash() string {
	b := append([]byte(nil), "loanremind.run.v1"...)
	b = appendInt(b, h.ID)
	b = appendStr(b, h.Mode)
	b = appendTime(b, h.AsOf)
	b = appendStr(b, h.BusinessDate)
	b = appendInt(b, int64(h.ShardIndex))
	b = appendInt(b, int64(h.ShardCount))
	b = appendStr(b, h.Actor)
	b = appendStr(b, h.Reason)
	b = appendStr(b, h.Host)
	b = appendTime(b, h.StartedAt)
	b = appendBool(b, h.SendLate)
	b = appendStr(b, h.ConfigSHA256)
	b = appendStr(b, h.PolicySHA256)
	b = appendStr(b, h.TemplatesSHA256)
	b = appendStr(b, h.Version)
	b = appendInt(b, h.PrevRunID)
	b = appendStr(b, h.PrevRunHead)
	return sum(b)
}

// HeaderOf rebuilds a run's header from its record.
func HeaderOf(run *queries.Run) *RunHeader {
	return &RunHeader{
		ID: run.ID, Mode: run.Mode, AsOf: run.AsOf, BusinessDate: run.BusinessDate,
		ShardIndex: run.ShardIndex, ShardCount: run.ShardCount, Actor: run.Actor, Reason: run.Reason,
		Host: run.Host, StartedAt: run.StartedAt, SendLate: run.SendLate, ConfigSHA256: run.ConfigSHA256,
		PolicySHA256: run.PolicySHA256, TemplatesSHA256: run.TemplatesSHA256, Version: run.Version,
		PrevRunID: run.PrevRunID, PrevRunHead: run.PrevRunHead,
	}
}

// Record is the run record of a run that starts with this header: its
// chain head is the header's hash until rows are written. The caller sets
// the status (and, for a run that ends at once, the rest).
func (h *RunHeader) Record() *queries.Run {
	return &queries.Run{
		ID: h.ID, Mode: h.Mode, AsOf: h.AsOf, BusinessDate: h.BusinessDate,
		ShardIndex: h.ShardIndex, ShardCount: h.ShardCount, Actor: h.Actor, Reason: h.Reason,
		Host: h.Host, StartedAt: h.StartedAt, SendLate: h.SendLate, ConfigSHA256: h.ConfigSHA256,
		PolicySHA256: h.PolicySHA256, TemplatesSHA256: h.TemplatesSHA256, Version: h.Version,
		PrevRunID: h.PrevRunID, PrevRunHead: h.PrevRunHead, AuditHead: h.Hash(),
	}
}

// TotalsOf reads the totals of a run record.
func TotalsOf(run *queries.Run) RunTotals {
	return RunTotals{
		Status: run.Status, FinishedAt: run.FinishedAt.Time, Error: run.Error, Candidates: run.Candidates,
		Messages: run.Messages, Queued: run.Queued, Deferred: run.Deferred, Suppressed: run.Suppressed,
		Skipped: run.Skipped, Expired: run.Expired, AuditRows: run.AuditRows, AuditHead: run.AuditHead,
	}
}

// RunTotals is the part of a run record fixed when it ends.
type RunTotals struct {
	Status     string
	FinishedAt time.Time
	Error      string
	Candidates int64
	Messages   int64
	Queued     int64
	Deferred   int64
	Suppressed int64
	Skipped    int64
	Expired    int64
	AuditRows  int64
	AuditHead  string
}

// Seal hashes a finished run's totals onto its header hash, so that editing
// its status, counts or error is detected too.
func (t *RunTotals) Seal(headerHash string) string {
	b := append([]byte(nil), "loanremind.seal.v1"...)
	b = appendStr(b, headerHash)
	b = appendStr(b, t.Status)
	b = appendTime(b, t.FinishedAt)
	b = appendStr(b, t.Error)
	for _, n := range []int64{t.Candidates, t.Messages, t.Queued, t.Deferred, t.Suppressed, t.Skipped, t.Expired, t.AuditRows} {
		b = appendInt(b, n)
	}
	b = appendStr(b, t.AuditHead)
	return sum(b)
}

// Event is the hashed content of one reminder_audit_events row.
type Event struct {
	At       time.Time
	Actor    string
	Event    string
	Details  string // jsonb text
	PrevHash string
}

// EventsGenesis is the prev_hash of the first administrative event.
const EventsGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Hash returns the event's hash.
func (e *Event) Hash() string {
	b := append([]byte(nil), "loanremind.event.v1"...)
	b = appendTime(b, e.At)
	b = appendStr(b, e.Actor)
	b = appendStr(b, e.Event)
	b = appendStr(b, e.Details)
	b = appendStr(b, e.PrevHash)
	return sum(b)
}

// rawHash hashes a row read by queries.ReadAuditChain exactly as Row.Hash
// hashes the same row, without copying its text; policy is the run's
// policy_sha256, which the row left out if it is its own.
func rawHash(runID int64, policy []byte, r *queries.RawChainRow, out *[sha256.Size]byte) {
	if !r.RunPolicy {
		policy = r.PolicySHA256
	}
	var buf [1024]byte
	*out = sha256.Sum256(appendRow(buf[:0], runID, r.At, r.BorrowerID, r.LoanID, r.InstallmentID, r.Stage, r.Channel,
		r.Decision, r.Reason, r.SendID, readBack(r.ScheduledFor), readBack(r.ValidUntil), r.TimeZones, policy, r.Details, r.PrevHash))
}

// readBack is a nullable timestamp as hashed: NULL is none. The writer
// stores "no time" as NULL and never the zero time, which appendTime
// encodes as none: a zero time read back was put there by someone else,
// and hashes as the time it is (a nanosecond on, the same microsecond), so
// that it cannot pass for a NULL. (A zero "at", never NULL, hashes as none
// and so differs from the time the writer hashed.)
func readBack(t sql.NullTime) time.Time {
	switch {
	case !t.Valid:
		return time.Time{}
	case t.Time.IsZero():
		return t.Time.Add(time.Nanosecond)
	}
	return t.Time
}

// Each field is written as a type letter, its length and its bytes, so no
// two different rows encode alike.
func appendStr[T ~string | ~[]byte](b []byte, s T) []byte {
	b = append(b, '|', 's')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendInt(b []byte, n int64) []byte {
	b = append(b, '|', 'i')
	return strconv.AppendInt(b, n, 10)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '|', 'T')
	}
	return append(b, '|', 'F')
}

// appendTime writes microseconds since the epoch (what timestamptz keeps),
// or n for none.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '|', 'n')
	}
	b = append(b, '|', 't')
	return strconv.AppendInt(b, t.UnixMicro(), 10)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
