package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Run is a reminder_runs row.
type Run struct {
	ID              int64        `db:"id"`
	Mode            string       `db:"mode"`
	AsOf            time.Time    `db:"as_of"`
	BusinessDate    string       `db:"business_date"`
	ShardIndex      int          `db:"shard_index"`
	ShardCount      int          `db:"shard_count"`
	Actor           string       `db:"actor"`
	Reason          string       `db:"reason"`
	Host            string       `db:"host"`
	StartedAt       time.Time    `db:"started_at"`
	FinishedAt      sql.NullTime `db:"finished_at"`
	Status          string       `db:"status"`
	SendLate        bool         `db:"send_late"`
	ConfigSHA256    string       `db:"config_sha256"`
	PolicySHA256    string       `db:"policy_sha256"`
	TemplatesSHA256 string       `db:"templates_sha256"`
	Version         string       `db:"version"`
	Candidates      int64        `db:"candidates"`
	Messages        int64        `db:"messages"`
	Queued          int64        `db:"queued"`
	Deferred        int64        `db:"deferred"`
	Suppressed      int64        `db:"suppressed"`
	Skipped         int64        `db:"skipped"`
	Expired         int64        `db:"expired"`
	Error           string       `db:"error"`
	AuditRows       int64        `db:"audit_rows"`
	AuditHead       string       `db:"audit_head"`
	PrevRunID       int64        `db:"prev_run_id"`
	PrevRunHead     string       `db:"prev_run_head"`
	Seal            string       `db:"seal"`
}

// BatchCounts is what one batch adds to its run's counters.
type BatchCounts struct {
	Candidates, Messages                           int64
	Queued, Deferred, Suppressed, Skipped, Expired int64
	AuditRows                                      int64
}

// Add adds o to c.
func (c *BatchCounts) Add(o BatchCounts) {
	c.Candidates += o.Candidates
	c.Messages += o.Messages
	c.Queued += o.Queued
	c.Deferred += o.Deferred
	c.Suppressed += o.Suppressed
	c.Skipped += o.Skipped
	c.Expired += o.Expired
	c.AuditRows += o.AuditRows
}

// ErrChainMoved means the run's audit head was not the one the batch was
// chained to: another writer appended to the same run.
var ErrChainMoved = errors.New("run audit chain moved: another writer appended to this run")

// NextRunID reserves a run id.
func NextRunID(ctx context.Context, db DBTX) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, stmt("NextRunID")).Scan(&id)
	return id, err
}

// PreviousRun returns the id and audit head of the latest run of the same
// lane and shard before id, or 0 when there is none.
func PreviousRun(ctx context.Context, db DBTX, shardIndex, shardCount int, backfill bool, before int64) (int64, string, error) {
	var id int64
	var head string
	err := db.QueryRowContext(ctx, stmt("PreviousRun"), shardIndex, shardCount, backfill, before).Scan(&id, &head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return id, head, err
}

// InsertRun writes a new run record.
func InsertRun(ctx context.Context, db DBTX, r *Run) error {
	_, err := db.ExecContext(ctx, stmt("InsertRun"), r.ID, r.Mode, r.AsOf, r.BusinessDate, r.ShardIndex, r.ShardCount,
		r.Actor, r.Reason, r.Host, r.StartedAt, r.Status, r.SendLate, r.ConfigSHA256, r.PolicySHA256,
		r.TemplatesSHA256, r.Version, r.AuditHead, r.PrevRunID, r.PrevRunHead, r.FinishedAt, r.Error, r.Seal)
	return err
}

// AddBatchToRun adds a batch's counts to its run and moves the chain head
// from prevHead to head; ErrChainMoved if the head was not prevHead.
func AddBatchToRun(ctx context.Context, db DBTX, runID int64, c BatchCounts, prevHead, head string) error {
	res, err := db.ExecContext(ctx, stmt("AddBatchToRun"), runID, c.Candidates, c.Messages, c.Queued, c.Deferred,
		c.Suppressed, c.Skipped, c.Expired, c.AuditRows, head, prevHead)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrChainMoved
	}
	return nil
}

// SelectRun reads one run.
func SelectRun(ctx context.Context, db DBTX, id int64) (*Run, error) {
	var runs []Run
	if err := selectAll(ctx, db, &runs, stmt("SelectRun"), id); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("run %d: %w", id, sql.ErrNoRows)
	}
	return &runs[0], nil
}

// LockRun locks a run's record for the rest of the transaction.
func LockRun(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := tx.ExecContext(ctx, stmt("LockRun"), id)
	return err
}

// FinishRun ends a running run with its final status, error and seal. It
// reports false if the run was no longer running.
func FinishRun(ctx context.Context, db DBTX, id int64, status string, at time.Time, errText, seal string) (bool, error) {
	res, err := db.ExecContext(ctx, stmt("FinishRun"), id, status, at, errText, seal)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RunningRuns lists the runs of a lane and shard still marked running.
func RunningRuns(ctx context.Context, db DBTX, shardIndex, shardCount int, backfill bool) ([]int64, error) {
	return selectColumn[int64](ctx, db, stmt("RunningRuns"), shardIndex, shardCount, backfill)
}

// DefaultLockKey is the first key of the job's lane locks unless the
// configuration's lock_key gives another ("LRLK"), so that two deployments
// in one database do not block each other.
const DefaultLockKey int32 = 0x4c524c4b

// LaneKey is the key of the lane lock of a lane and shard: runs of a lane
// (scheduled and manual runs share one, backfills have their own, so that a
// long backfill never holds up the hourly job) and shard never overlap.
type LaneKey struct{ Class, Key int32 }

// LaneOf returns the lane lock's key under the deployment's lock key
// (0: DefaultLockKey).
func LaneOf(lockKey int32, backfill bool, shardIndex, shardCount int) LaneKey {
	if lockKey == 0 {
		lockKey = DefaultLockKey
	}
	lane := int32(0)
	if backfill {
		lane = 1
	}
	return LaneKey{lockKey, lane<<24 | int32(shardCount&0xfff)<<12 | int32(shardIndex&0xfff)}
}

// ApplicationName is the application_name of every loanremind session (the
// connection's fallback): a lane lock held by a session without it, or of
// another role, is not a loanremind run's.
const ApplicationName = "loanremind"

// LockHolder is the session that holds a lock.
type LockHolder struct {
	PID             int64
	Role            string
	ApplicationName string // "" when the server does not show it to us
	SameRole        bool   // the holder's role is ours
}

// Loanremind reports whether the holder is a loanremind process of our
// role: another loanremind run, whose lock is to be waited out.
func (h LockHolder) Loanremind() bool {
	return h.SameRole && strings.HasPrefix(h.ApplicationName, ApplicationName)
}

// LaneHolder returns the session that holds a lane's lock; found is false
// when nobody does (any more).
func LaneHolder(ctx context.Context, db DBTX, k LaneKey) (h LockHolder, found bool, err error) {
	err = db.QueryRowContext(ctx, stmt("LaneHolder"), k.Class, k.Key).Scan(&h.PID, &h.Role, &h.ApplicationName, &h.SameRole)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	return h, err == nil, err
}

// ConsecutiveSkipped counts the newest runs of a lane and shard that were
// skipped, up to the newest one that was not.
func ConsecutiveSkipped(ctx context.Context, db DBTX, shardIndex, shardCount int, backfill bool) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, stmt("ConsecutiveSkipped"), shardIndex, shardCount, backfill).Scan(&n)
	return n, err
}

// LaneLockHeld reports whether any session holds a lane's lock.
func LaneLockHeld(ctx context.Context, db DBTX, k LaneKey) (bool, error) {
	var held bool
	err := db.QueryRowContext(ctx, stmt("LaneLockHeld"), k.Class, k.Key).Scan(&held)
	return held, err
}

// TryLaneLock takes the session-level advisory lock of a lane and shard on
// conn; false when another session holds it.
func TryLaneLock(ctx context.Context, conn DBTX, k LaneKey) (bool, error) {
	var ok bool
	err := conn.QueryRowContext(ctx, stmt("TryLaneLock"), k.Class, k.Key).Scan(&ok)
	return ok, err
}

// LaneUnlock releases the lock TryLaneLock took.
func LaneUnlock(ctx context.Context, conn DBTX, k LaneKey) error {
	_, err := conn.ExecContext(ctx, stmt("LaneUnlock"), k.Class, k.Key)
	return err
}
