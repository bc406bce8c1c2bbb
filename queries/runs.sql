-- Run records: one row per run or backfill day.

-- name: NextRunID
SELECT nextval('reminder_runs_id_seq');

-- name: PreviousRun
-- The latest run of the same lane and shard that held the lock: its audit
-- head is final, since runs of a lane and shard never overlap.
SELECT id, coalesce(audit_head, '') AS audit_head
FROM reminder_runs
WHERE shard_index = $1 AND shard_count = $2 AND (mode = 'backfill') = $3
  AND status <> 'skipped' AND id < $4
ORDER BY id DESC
LIMIT 1;

-- name: InsertRun
INSERT INTO reminder_runs (
    id, mode, as_of, business_date, shard_index, shard_count, actor, reason, host, started_at,
    status, send_late, config_sha256, policy_sha256, templates_sha256, version,
    audit_rows, audit_head, prev_run_id, prev_run_head, finished_at, error, seal)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0, $17, nullif($18, 0), nullif($19, ''),
        $20, nullif($21, ''), nullif($22, ''));

-- name: AddBatchToRun
UPDATE reminder_runs SET
    candidates = candidates + $2,
    messages   = messages + $3,
    queued     = queued + $4,
    deferred   = deferred + $5,
    suppressed = suppressed + $6,
    skipped    = skipped + $7,
    expired    = expired + $8,
    audit_rows = audit_rows + $9,
    audit_head = $10
WHERE id = $1 AND audit_head = $11;

-- name: SelectRun
SELECT id, mode, as_of, business_date::text AS business_date, shard_index, shard_count, actor, reason, host,
       started_at, finished_at, status, send_late, config_sha256, policy_sha256, templates_sha256, version,
       candidates, messages, queued, deferred, suppressed, skipped, expired, coalesce(error, '') AS error,
       audit_rows, coalesce(audit_head, '') AS audit_head, coalesce(prev_run_id, 0) AS prev_run_id,
       coalesce(prev_run_head, '') AS prev_run_head, coalesce(seal, '') AS seal
FROM reminder_runs
WHERE id = $1;

-- name: LockRun
-- Holds a run's record until the transaction ends: a run closing another as
-- abandoned seals the record as it is, while the other cannot add a batch.
SELECT id FROM reminder_runs WHERE id = $1 FOR UPDATE;

-- name: FinishRun
UPDATE reminder_runs SET status = $2, finished_at = $3, error = nullif($4, ''), seal = $5
WHERE id = $1 AND status = 'running';

-- name: RunningRuns
-- Runs of this lane and shard still marked running: once the lane's lock is
-- held, they are known to have died (killed, or their database connection
-- lost) and are marked failed.
SELECT id FROM reminder_runs
WHERE shard_index = $1 AND shard_count = $2 AND (mode = 'backfill') = $3 AND status = 'running'
ORDER BY id;

-- name: TryLaneLock
SELECT pg_try_advisory_lock($1::int4, $2::int4);

-- name: LaneUnlock
SELECT pg_advisory_unlock($1::int4, $2::int4);

-- name: LaneHolder
-- Who holds a lane lock ($1, $2): the session's pid, role and
-- application_name (which the server shows only for our own role's
-- sessions unless we may read all statistics).
SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.usename = current_user, false)
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ($1::int4)::bigint::oid AND l.objid = ($2::int4)::bigint::oid
LIMIT 1;

-- name: ConsecutiveSkipped
-- The newest runs of a lane and shard that were skipped in a row.
SELECT count(*) FROM reminder_runs
WHERE shard_index = $1 AND shard_count = $2 AND (mode = 'backfill') = $3 AND status = 'skipped'
  AND id > coalesce((SELECT max(id) FROM reminder_runs
                     WHERE shard_index = $1 AND shard_count = $2 AND (mode = 'backfill') = $3
                       AND status <> 'skipped'), 0);

-- name: LaneLockHeld
-- Whether a session of this database holds the lane lock ($1, $2): a run
-- marked running whose lane nobody holds has died.
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = ($1::int4)::bigint::oid AND objid = ($2::int4)::bigint::oid);
