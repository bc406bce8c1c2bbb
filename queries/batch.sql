-- The write path of one batch of borrowers. All of it runs in one
-- transaction: the ledger rows, the sends, the audit rows and the run's
-- counters commit together or not at all.

-- name: LockStripes
-- Serializes writers of the same borrowers (a backfill beside a scheduled
-- run), so that frequency caps see each other's sends. Borrowers fall into
-- 64 stripes by the same hash as shards, so the shards of a sharded run
-- never wait for each other.
SELECT pg_advisory_xact_lock(1280462675, s) FROM unnest($1::int4[]) AS s ORDER BY s;

-- name: ReserveIDs
-- $2 fresh values of sequence $1, ascending: ids assigned in Go keep the
-- audit chain's order in its ids whatever order the rows are written in.
SELECT nextval($1::regclass) AS id FROM generate_series(1, $2) ORDER BY id;

-- name: CachePhones
-- A borrower's number changed since it was cached: the new parse replaces
-- the old.
INSERT INTO reminder_phone_cache (borrower_id, raw, region, e164, valid, time_zones, mac, country, subdivisions)
SELECT b, raw, region, e164, valid, CASE WHEN zones = '' THEN '{}'::text[] ELSE string_to_array(zones, ',') END, mac,
       country, CASE WHEN subdivisions = '' THEN '{}'::text[] ELSE string_to_array(subdivisions, ',') END
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], $8::text[], $9::text[])
    AS t (b, raw, region, e164, valid, zones, mac, country, subdivisions)
ON CONFLICT (borrower_id) DO UPDATE
SET raw = excluded.raw, region = excluded.region, e164 = excluded.e164, valid = excluded.valid,
    time_zones = excluded.time_zones, mac = excluded.mac, country = excluded.country,
    subdivisions = excluded.subdivisions;

-- name: StreamSettings
-- The candidate query sorts every candidate: in memory, and without a JIT
-- compilation that costs more than it saves. Until its first row, nothing
-- else of the run has work: the loans are joined in parallel workers, which
-- the planner, counting every row that leaves a worker, would not choose
-- (the first batch was written 0.3-0.5 s sooner with 1,000,000 borrowers,
-- measured).
SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true),
       set_config('parallel_tuple_cost', '0.01', true);

-- name: SetLocalSettings
-- Settings for the rest of a job transaction: the lock and statement
-- timeouts ($1, $2: milliseconds), no sequential scans, and no JIT. The
-- job's own tables grow from empty during a run while their statistics
-- still say empty; a planner that believes them, and scans
-- reminder_send_items for every candidate, turns a run of seconds into
-- hours. Every query of the job has an index to use. A query that has not
-- (reminder_runs, a few rows) looks expensive with sequential scans off,
-- and would be compiled, 0.1 s for every batch, measured.
SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true),
       set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true);
