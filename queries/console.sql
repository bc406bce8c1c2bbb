-- The compliance console's reads. Every page answers from an index or the
-- run records: none scans the audit (see migration 00009 for the indexes it
-- added, and jobs/console/bench_test.go for the timings).

-- name: ConsoleLastRuns
-- The latest run of every lane (scheduled and manual runs, backfills) and
-- shard: the distinct shards by a loose index scan of
-- reminder_runs_shard_idx (one probe per shard), then the newest run of
-- each lane in it, read backwards on the same index.
WITH RECURSIVE shards AS (
    (SELECT shard_count, shard_index FROM reminder_runs ORDER BY shard_count, shard_index LIMIT 1)
    UNION ALL
    SELECT n.shard_count, n.shard_index
    FROM shards s
    CROSS JOIN LATERAL (
        SELECT r.shard_count, r.shard_index FROM reminder_runs r
        WHERE (r.shard_count, r.shard_index) > (s.shard_count, s.shard_index)
        ORDER BY r.shard_count, r.shard_index LIMIT 1) n
)
SELECT r.id, r.mode, r.as_of, r.business_date::text AS business_date, r.shard_index, r.shard_count, r.actor, r.reason,
       r.host, r.started_at, r.finished_at, r.status, r.send_late, r.config_sha256, r.policy_sha256,
       r.templates_sha256, r.version, r.candidates, r.messages, r.queued, r.deferred, r.suppressed, r.skipped,
       r.expired, coalesce(r.error, '') AS error, r.audit_rows, coalesce(r.audit_head, '') AS audit_head,
       coalesce(r.prev_run_id, 0) AS prev_run_id, coalesce(r.prev_run_head, '') AS prev_run_head,
       coalesce(r.seal, '') AS seal
FROM shards s
CROSS JOIN (VALUES (false), (true)) AS lane(backfill)
CROSS JOIN LATERAL (
    SELECT * FROM reminder_runs x
    WHERE x.shard_count = s.shard_count AND x.shard_index = s.shard_index AND (x.mode = 'backfill') = lane.backfill
    ORDER BY x.id DESC LIMIT 1) r
ORDER BY lane.backfill, s.shard_count, s.shard_index;

-- name: ConsoleDailyCounts
-- Decisions and messages per business day from the run records (one row
-- per run, through reminder_runs_business_date_idx), never the audit.
SELECT business_date::text, sum(queued), sum(deferred), sum(suppressed), sum(skipped), sum(expired), sum(messages),
       count(*)
FROM reminder_runs
WHERE business_date >= $1::date AND business_date <= $2::date
GROUP BY business_date
ORDER BY business_date;

-- name: ConsoleOutboxNow
-- The outbox as it stands at $1, from partial indexes only: the pending
-- messages due by now and scheduled later, and when the oldest due one
-- was due, in one pass over reminder_sends_due_idx; the claims in flight
-- (reminder_sends_sending_idx); the refused and unknown messages, which
-- need a person (reminder_sends_attention_idx).
SELECT p.due, p.later, p.oldest_due,
       (SELECT count(*) FROM reminder_sends WHERE status = 'sending'),
       (SELECT count(*) FROM reminder_sends WHERE status = 'refused'),
       (SELECT count(*) FROM reminder_sends WHERE status = 'unknown')
FROM (SELECT count(*) FILTER (WHERE scheduled_for <= $1) AS due,
             count(*) FILTER (WHERE scheduled_for > $1) AS later,
             min(scheduled_for) FILTER (WHERE scheduled_for <= $1) AS oldest_due
      FROM reminder_sends
      WHERE status = 'pending') p;

-- name: ConsoleOutboxByStatus
-- The state of the messages of the runs since $1 (the BRIN index on
-- run_id: the newest pages of the outbox only).
SELECT status, count(*)
FROM reminder_sends
WHERE run_id >= $1
GROUP BY status
ORDER BY status;

-- name: ConsoleFirstRunSince
SELECT coalesce(min(id), 0) FROM reminder_runs WHERE started_at >= $1;

-- name: ConsoleRuns
-- The runs list, newest first, filtered, a page at a time (keyset on id).
SELECT id, mode, as_of, business_date::text AS business_date, shard_index, shard_count, actor, reason, host,
       started_at, finished_at, status, send_late, config_sha256, policy_sha256, templates_sha256, version,
       candidates, messages, queued, deferred, suppressed, skipped, expired, coalesce(error, '') AS error,
       audit_rows, coalesce(audit_head, '') AS audit_head, coalesce(prev_run_id, 0) AS prev_run_id,
       coalesce(prev_run_head, '') AS prev_run_head, coalesce(seal, '') AS seal
FROM reminder_runs
WHERE ($1::text = '' OR mode = $1::text)
  AND ($2::text = '' OR status = $2::text)
  AND ($3::date IS NULL OR business_date >= $3::date)
  AND ($4::date IS NULL OR business_date <= $4::date)
  AND ($5::int < 0 OR (shard_index = $5::int AND shard_count = $6::int))
  AND ($7::text = '' OR strpos(lower(actor), lower($7::text)) > 0)
  AND ($8::bigint = 0 OR id < $8::bigint)
ORDER BY id DESC
LIMIT $9;

-- name: ConsoleRunBreakdown
-- A run's decisions by stage, channel, decision and reason: an index-only
-- scan of its entries in reminder_audit_breakdown_idx.
SELECT stage, channel, decision, reason, count(*)
FROM reminder_audit
WHERE run_id = $1
GROUP BY stage, channel, decision, reason
ORDER BY stage, channel, decision, reason;

-- name: ConsoleBorrower
SELECT id, coalesce(full_name, ''), coalesce(phone, ''), coalesce(email, ''), coalesce(locale, ''),
       coalesce(time_zone, ''), coalesce(region, ''), coalesce(sms_opt_out, false), coalesce(email_opt_out, false),
       coalesce(do_not_contact, false)
FROM borrowers
WHERE id = $1;

-- name: ConsoleBorrowerLoans
SELECT id, coalesce(account_ref, ''), coalesce(currency, ''), coalesce(status, '')
FROM loans
WHERE borrower_id = $1
ORDER BY id;

-- name: ConsoleBorrowerInstallments
SELECT i.id, i.loan_id, i.seq, i.due_date::text, i.amount_due_minor, i.amount_paid_minor, coalesce(l.currency, '')
FROM loans l
JOIN installments i ON i.loan_id = l.id
WHERE l.borrower_id = $1
ORDER BY i.due_date DESC, i.id DESC
LIMIT $2;

-- name: ConsoleBorrowerDecisions
-- A borrower's decisions, newest first (reminder_audit_borrower_idx).
SELECT a.id, a.run_id, a.at, a.loan_id, a.installment_id, a.stage, a.channel, a.decision, a.reason,
       coalesce(a.send_id, 0), a.scheduled_for, a.valid_until, a.time_zones::text
FROM reminder_audit a
WHERE a.borrower_id = $1
ORDER BY a.id DESC
LIMIT $2;

-- name: ConsoleBorrowerMessages
-- A borrower's messages, newest first (reminder_sends_borrower_scheduled_idx).
SELECT id, run_id, channel, recipient, locale, template, stage, segments, coalesce(currency, ''),
       total_due_minor, scheduled_for, valid_until, status, created_at
FROM reminder_sends
WHERE borrower_id = $1
ORDER BY id DESC
LIMIT $2;

-- name: ConsoleBorrowerDeliveries
-- The delivery trail of a borrower's messages, newest first: the
-- borrower's messages (reminder_sends_borrower_scheduled_idx), then each
-- one's events (reminder_deliveries_send_idx).
SELECT d.send_id, d.at, d.event, d.reason, d.provider, d.provider_message_id, d.attempt, d.details::text
FROM reminder_sends s
JOIN reminder_deliveries d ON d.send_id = s.id
WHERE s.borrower_id = $1
ORDER BY d.at DESC, d.session_id DESC, d.id DESC
LIMIT $2;

-- name: ConsoleBorrowerEvents
-- The administrative events naming a borrower (reveals, unmasked exports
-- of the borrower's decisions), newest first
-- (reminder_audit_events_borrower_idx).
SELECT id, at, actor, event, details::text, hash
FROM reminder_audit_events
WHERE details ? 'borrower' AND details->>'borrower' = $1::text
ORDER BY id DESC
LIMIT $2;

-- name: ConsoleBorrowersByContact
-- The borrowers decided about under a contact address's keyed hashes
-- (reminder_audit_contact_idx), as `audit export --contact` finds them.
SELECT borrower_id, count(*), max(at)
FROM reminder_audit
WHERE details->>'contact_hmac' = ANY($1::text[])
GROUP BY borrower_id
ORDER BY max(at) DESC
LIMIT $2;

-- name: ConsoleLoanBorrower
SELECT borrower_id FROM loans WHERE id = $1;

-- name: ConsoleInstallmentOwner
SELECT i.loan_id, l.borrower_id FROM installments i JOIN loans l ON l.id = i.loan_id WHERE i.id = $1;

-- name: ConsoleMessage
SELECT id, run_id, borrower_id, channel, recipient, locale, template, template_sha256, coalesce(subject, ''), body,
       segments, stage, coalesce(currency, ''), total_due_minor, scheduled_for, valid_until, status, created_at
FROM reminder_sends
WHERE id = $1;

-- name: ConsoleMessageItems
SELECT installment_id, loan_id, stage, channel, amount_minor
FROM reminder_send_items
WHERE send_id = $1
ORDER BY installment_id;

-- name: ConsoleMessageDecisions
-- The audit rows that queued or deferred a message: those of its items
-- (reminder_audit_installment_idx) that name it.
SELECT a.id, a.run_id, a.at, a.loan_id, a.installment_id, a.stage, a.channel, a.decision, a.reason,
       coalesce(a.send_id, 0), a.scheduled_for, a.valid_until, a.time_zones::text
FROM reminder_audit a
WHERE a.installment_id = ANY($1::bigint[]) AND a.send_id = $2
ORDER BY a.id;

-- name: ConsoleEvents
-- Administrative events, newest first, a page at a time.
SELECT id, at, actor, event, details::text, hash
FROM reminder_audit_events
WHERE ($1::text = '' OR event = $1::text)
  AND ($2::text = '' OR strpos(lower(actor), lower($2::text)) > 0)
  AND ($3::bigint = 0 OR id < $3::bigint)
ORDER BY id DESC
LIMIT $4;
