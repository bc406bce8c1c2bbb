-- The audit trail, for compliance staff: verification, export, pruning and
-- explanations.

-- name: RunsForVerify
-- The runs to verify, oldest first: all ($1 = 0 and no dates), one run, or
-- those of a range of business dates.
SELECT id, mode, as_of, business_date::text AS business_date, shard_index, shard_count, actor, reason, host,
       started_at, finished_at, status, send_late, config_sha256, policy_sha256, templates_sha256, version,
       candidates, messages, queued, deferred, suppressed, skipped, expired, coalesce(error, '') AS error,
       audit_rows, coalesce(audit_head, '') AS audit_head, coalesce(prev_run_id, 0) AS prev_run_id,
       coalesce(prev_run_head, '') AS prev_run_head, coalesce(seal, '') AS seal
FROM reminder_runs
WHERE ($1::bigint = 0 OR id = $1::bigint)
  AND ($2::date IS NULL OR business_date >= $2)
  AND ($3::date IS NULL OR business_date <= $3)
ORDER BY id;

-- name: RunHead
SELECT coalesce(audit_head, '') FROM reminder_runs WHERE id = $1;

-- name: ChainSettings
-- Walk a chain in the order of the primary key: a bitmap scan and a sort,
-- which stale statistics can make the planner choose, would sort a whole
-- run on disk. No JIT: the walk of a large run looks expensive enough to
-- compile, and gains nothing from it.
SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true),
       set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true);

-- name: AuditChain
-- One run's audit rows in chain order, with exactly the text that was
-- hashed. The jsonb columns come as jsonb, whose text the driver hands over
-- without copying it; timestamps come in their binary form, the
-- microseconds that are hashed, which the server writes and the reader
-- decodes faster than the text of a timestamptz; policy_sha256 comes as
-- null when it is the run's ($4, the column is never null), which spares
-- sending the same 64 bytes for every row.
SELECT id, timestamptz_send(at), borrower_id, loan_id, installment_id, stage, channel, decision, reason,
       coalesce(send_id, 0), timestamptz_send(scheduled_for), timestamptz_send(valid_until),
       time_zones, nullif(policy_sha256, $4), details, prev_hash, hash
FROM reminder_audit
WHERE run_id = $1 AND id >= $2::bigint AND ($3::bigint = 0 OR id < $3::bigint)
ORDER BY run_id, id;

-- name: AuditIDRange
SELECT min(id), max(id) FROM reminder_audit WHERE run_id = $1;

-- name: AuditRowBefore
-- The row before a segment of a run's chain, whose hash the segment's first
-- row links to, and the hash it links to itself.
SELECT id, hash, prev_hash FROM reminder_audit WHERE run_id = $1 AND id < $2 ORDER BY run_id DESC, id DESC LIMIT 1;

-- name: AuditEvents
SELECT id, at, actor, event, details::text, prev_hash, hash
FROM reminder_audit_events
ORDER BY id;

-- name: LastAuditEvent
SELECT coalesce((SELECT hash FROM reminder_audit_events ORDER BY id DESC LIMIT 1), '');

-- name: InsertAuditEvent
INSERT INTO reminder_audit_events (at, actor, event, details, prev_hash, hash)
VALUES ($1, $2, $3, $4::jsonb, $5, $6)
RETURNING id;

-- name: LockAuditEvents
-- Serializes writers of the event chain.
SELECT pg_advisory_xact_lock(1280462675, 1000);

-- name: ExportAudit
-- One row per decision in a window of decision times, filtered (by $8: the
-- keyed hashes of a contact address, among others), in chain order, with
-- the run's actor, the address actually used (from the send) or the
-- borrower's, and the loan's account reference.
SELECT a.id, a.run_id, r.mode, r.actor, a.at, a.borrower_id, a.loan_id, a.installment_id, a.stage, a.channel,
       a.decision, a.reason, a.time_zones::text, a.scheduled_for, a.valid_until, coalesce(a.send_id, 0),
       a.policy_sha256,
       coalesce(s.recipient, CASE a.channel WHEN 'sms' THEN b.phone ELSE b.email END, '') AS recipient,
       coalesce(l.account_ref, '') AS account_ref
FROM reminder_audit a
JOIN reminder_runs r ON r.id = a.run_id
LEFT JOIN reminder_sends s ON s.id = a.send_id
LEFT JOIN borrowers b ON b.id = a.borrower_id
LEFT JOIN loans l ON l.id = a.loan_id
WHERE a.at >= $1 AND a.at < $2
  AND ($3::bigint = 0 OR a.borrower_id = $3::bigint)
  AND ($4::bigint = 0 OR a.loan_id = $4::bigint)
  AND ($5::bigint = 0 OR a.run_id = $5::bigint)
  AND ($6::text = '' OR a.decision = $6::text)
  AND ($7::bigint = 0 OR a.installment_id = $7::bigint)
  AND (coalesce(cardinality($8::text[]), 0) = 0 OR a.details->>'contact_hmac' = ANY($8::text[]))
ORDER BY a.id;

-- name: RunsToPrune
SELECT id, coalesce(audit_head, '') AS audit_head
FROM reminder_runs
WHERE business_date < $1 AND status <> 'running'
ORDER BY id;

-- name: PruneBoundary
-- Runs that stay but link to a run that goes.
SELECT id, prev_run_id, coalesce(prev_run_head, '')
FROM reminder_runs
WHERE prev_run_id = ANY($1::bigint[]) AND NOT (id = ANY($1::bigint[]));

-- name: PruneMode
-- Tells the append-only trigger that this transaction prunes: it then lets
-- the table owner, and nobody else, delete audit rows (migration 00006),
-- without a table lock that would hold up the runs writing meanwhile.
SELECT set_config('loanremind.prune', 'on', true);

-- name: PruneAudit
DELETE FROM reminder_audit WHERE run_id = ANY($1::bigint[]);

-- name: PruneDecisions
DELETE FROM reminder_decisions WHERE run_id = ANY($1::bigint[]);

-- name: PruneSendItems
-- The ledger items of the messages PruneSends deletes.
DELETE FROM reminder_send_items i
USING reminder_sends s
WHERE i.send_id = s.id AND s.run_id = ANY($1::bigint[]);

-- name: PruneSends
DELETE FROM reminder_sends WHERE run_id = ANY($1::bigint[]);

-- name: PruneRuns
DELETE FROM reminder_runs WHERE id = ANY($1::bigint[]);

-- name: MessageInstallments
-- The installments a message covers, in the order the ledger holds them.
SELECT installment_id FROM reminder_send_items WHERE send_id = $1 ORDER BY installment_id;

-- name: InstallmentFacts
-- Everything explain needs about one installment.
SELECT i.id, i.loan_id, i.seq, (i.due_date - DATE '1970-01-01') AS due_day, i.amount_due_minor, i.amount_paid_minor,
       coalesce(l.account_ref, ''), coalesce(l.currency, ''), coalesce(l.status, ''),
       b.id, coalesce(b.full_name, ''), coalesce(b.phone, ''), coalesce(b.email, ''), coalesce(b.locale, ''),
       coalesce(b.time_zone, ''), coalesce(b.region, ''), coalesce(b.sms_opt_out, false),
       coalesce(b.email_opt_out, false), coalesce(b.do_not_contact, false)
FROM installments i
JOIN loans l ON l.id = i.loan_id
JOIN borrowers b ON b.id = l.borrower_id
WHERE i.id = $1;

-- name: InstallmentAudit
SELECT a.id, a.run_id, r.mode, r.actor, r.as_of, r.started_at, r.send_late, r.policy_sha256, a.at, a.stage, a.channel,
       a.decision, a.reason, a.time_zones::text, a.scheduled_for, a.valid_until, coalesce(a.send_id, 0)
FROM reminder_audit a
JOIN reminder_runs r ON r.id = a.run_id
WHERE a.installment_id = $1
ORDER BY a.id;

-- name: SendsBefore
-- A borrower's countable sends that existed before an instant: what a run
-- starting then counted for its frequency caps.
SELECT channel, scheduled_for, created_at
FROM reminder_sends
WHERE borrower_id = $1 AND scheduled_for > $2 AND created_at < $3
  AND status IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'unknown')
ORDER BY scheduled_for;

-- name: SampleSends
-- A few messages of a run for a report: one per channel and locale.
SELECT DISTINCT ON (channel, locale) id, borrower_id, channel, recipient, locale, stage, template, segments,
       coalesce(subject, ''), body, scheduled_for, valid_until
FROM reminder_sends
WHERE run_id = $1
ORDER BY channel, locale, id;

-- name: OrphanAuditRuns
-- Runs that audit rows name but that have no run record (the job's tables
-- carry no foreign key to reminder_runs). A loose index scan: one probe of
-- the primary key per run.
WITH RECURSIVE r AS (
    (SELECT run_id FROM reminder_audit ORDER BY run_id LIMIT 1)
    UNION ALL
    SELECT (SELECT a.run_id FROM reminder_audit a WHERE a.run_id > r.run_id ORDER BY a.run_id LIMIT 1)
    FROM r
    WHERE r.run_id IS NOT NULL
)
SELECT run_id FROM r
WHERE run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reminder_runs WHERE id = r.run_id);
