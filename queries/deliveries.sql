-- The sender: claims, the facts re-checked in the claiming transaction,
-- outcomes, receipts and the delivery trail (migration 00008). Every time
-- is computed in Go and passed in ($now): the sender's clock is injected.
-- The shard filter is the candidate query's: borrowers partitioned by a
-- stable hash of their id.

-- name: LockDueSends
-- Due messages of one channel ($2), oldest first, that no other dispatcher
-- holds: pending, inside their window at $1, past any retry time. SKIP
-- LOCKED lets concurrent dispatchers take disjoint batches. The scan
-- follows reminder_sends_pending_idx.
SELECT id
FROM reminder_sends
WHERE status = 'pending' AND scheduled_for <= $1 AND valid_until > $1 AND (retry_at IS NULL OR retry_at <= $1)
  AND channel = $2
  AND ($5 = 1 OR ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % $5 = $4)
ORDER BY scheduled_for, id
LIMIT $3
FOR UPDATE SKIP LOCKED;

-- name: LockLapsedClaims
-- Claims of one channel ($2) whose lease ran out at $1, held for an
-- idempotent provider ($6) and still inside their window: taken over and
-- sent again under the same idempotency key.
SELECT id
FROM reminder_sends
WHERE status = 'sending' AND lease_until <= $1 AND valid_until > $1 AND channel = $2 AND provider = ANY($6::text[])
  AND ($5 = 1 OR ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % $5 = $4)
ORDER BY lease_until, id
LIMIT $3
FOR UPDATE SKIP LOCKED;

-- name: LockExpiredPending
-- Pending messages whose window passed at $1 unsent: the dispatcher or
-- the provider was down, or retries ran out. ($3, $4: the shard.)
SELECT id, attempts, coalesce(status_reason, ''), coalesce(provider, ''), channel
FROM reminder_sends
WHERE status = 'pending' AND scheduled_for < $1 AND valid_until <= $1
  AND ($4 = 1 OR ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % $4 = $3)
ORDER BY scheduled_for, id
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: LockLapsedUnknown
-- Claims whose lease ran out at $1 that nobody may take over: their
-- provider is not idempotent ($5 lists those that are), or their window
-- has passed. The crashed worker may have sent them.
SELECT id, attempts, coalesce(provider, ''), channel
FROM reminder_sends
WHERE status = 'sending' AND lease_until <= $1
  AND NOT (coalesce(provider, '') = ANY($5::text[]) AND valid_until > $1)
  AND ($4 = 1 OR ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % $4 = $3)
ORDER BY lease_until, id
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: SendFacts
-- The claimed messages ($1) with the facts they were written on, as they
-- are now: one row per ledger item (a message without items has one row
-- with none), its installment, its loan, and the borrower.
SELECT s.id, s.borrower_id, s.channel, s.recipient, coalesce(r.business_date - DATE '1970-01-01', 0),
       b.id IS NOT NULL, coalesce(b.phone, ''), coalesce(b.email, ''), coalesce(b.region, ''),
       coalesce(b.sms_opt_out, false), coalesce(b.email_opt_out, false), coalesce(b.do_not_contact, false),
       coalesce(i.installment_id, 0), coalesce(i.loan_id, 0), coalesce(i.stage, ''), coalesce(i.amount_minor, 0),
       n.id IS NOT NULL, coalesce(n.amount_due_minor, 0), coalesce(n.amount_paid_minor, 0), coalesce(n.seq, 0),
       coalesce(n.due_date - DATE '1970-01-01', 0),
       l.id IS NOT NULL, coalesce(l.status, ''), coalesce(l.account_ref, ''), coalesce(l.currency, '')
FROM reminder_sends s
LEFT JOIN reminder_runs r ON r.id = s.run_id
LEFT JOIN borrowers b ON b.id = s.borrower_id
LEFT JOIN reminder_send_items i ON i.send_id = s.id
LEFT JOIN installments n ON n.id = i.installment_id
LEFT JOIN loans l ON l.id = i.loan_id
WHERE s.id = ANY($1::bigint[])
ORDER BY s.id, i.installment_id, i.stage;

-- name: ApplyClaims
-- The claiming transaction's verdicts ($1 ids, $2 statuses, $3 reasons):
-- sending (claimed by session $4 until $5 for provider $6), cancelled or
-- refused. Every verdict is a new attempt. Returns what a provider needs
-- of the claimed ones.
UPDATE reminder_sends s SET
    status        = u.status,
    attempts      = s.attempts + 1,
    claimed_by    = $4,
    lease_until   = CASE WHEN u.status = 'sending' THEN $5::timestamptz END,
    provider      = CASE WHEN u.status = 'sending' THEN $6 ELSE s.provider END,
    retry_at      = NULL,
    status_reason = CASE WHEN u.reason <> '' THEN u.reason ELSE s.status_reason END,
    status_at     = $7
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u (id, status, reason)
WHERE s.id = u.id
RETURNING s.id, s.attempts, s.status, s.channel, s.recipient, coalesce(s.subject, ''), s.body, s.locale, s.stage,
          s.template, s.scheduled_for, s.valid_until, coalesce(s.status_reason, '');

-- name: RecordOutcomes
-- Outcomes of provider calls, each fenced by its claim: it is recorded only
-- while the message still carries the attempt ($2) and the session ($9)
-- that claimed it. A receipt that came first (delivered, undelivered)
-- keeps its status; an outcome may settle an unknown. Returns the
-- recorded ones.
UPDATE reminder_sends s SET
    status              = CASE WHEN s.status IN ('delivered', 'undelivered') THEN s.status ELSE u.status END,
    lease_until         = NULL,
    retry_at            = nullif(u.retry_at, '')::timestamptz,
    provider_message_id = coalesce(nullif(u.provider_message_id, ''), s.provider_message_id),
    sent_at             = coalesce(nullif(u.sent_at, '')::timestamptz, s.sent_at),
    status_reason       = nullif(u.reason, ''),
    status_at           = u.at::timestamptz
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     AS u (id, attempt, status, reason, retry_at, provider_message_id, sent_at, at)
WHERE s.id = u.id AND s.attempts = u.attempt AND s.claimed_by = $9
  AND s.status IN ('sending', 'unknown', 'delivered', 'undelivered')
RETURNING s.id;

-- name: MarkSends
-- Moves locked messages ($1) to a status ($2) with a reason ($3), at $4:
-- the sweeps of expired and lapsed messages.
UPDATE reminder_sends s SET
    status        = u.status,
    lease_until   = NULL,
    retry_at      = NULL,
    status_reason = nullif(u.reason, ''),
    status_at     = $4
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u (id, status, reason)
WHERE s.id = u.id;

-- name: ReleaseExpired
-- The ledger items of expired messages, given back once (migration 00008).
SELECT released_send_id, released_installment_id, released_stage, released_channel
FROM reminder_release_expired($1::bigint[], $2::timestamptz);

-- name: LockReceiptTarget
-- The message a receipt names: by our id ($1), or by the provider's id
-- ($2) of that provider ($3).
SELECT id, status, attempts, coalesce(provider, ''), coalesce(provider_message_id, ''), channel
FROM reminder_sends
WHERE ($1 <> 0 AND id = $1)
   OR ($1 = 0 AND $2 <> '' AND provider_message_id = $2 AND provider = $3)
ORDER BY id
LIMIT 1
FOR UPDATE;

-- name: SetReceipt
-- A receipt's verdict ($2: delivered or undelivered, $3: its code) on a
-- message that was, or may have been, sent.
UPDATE reminder_sends SET
    status              = $2,
    status_reason       = nullif($3, ''),
    status_at           = $4,
    provider_message_id = coalesce(provider_message_id, nullif($5, ''))
WHERE id = $1 AND status IN ('sending', 'sent', 'unknown');

-- name: NextRetry
-- When the next message of these channels ($2) due by $3 may be tried
-- again: the earliest retry time after $1, or NULL.
SELECT min(retry_at)
FROM reminder_sends
WHERE status = 'pending' AND scheduled_for <= $3 AND retry_at > $1 AND valid_until > $1
  AND channel = ANY($2::text[])
  AND ($5 = 1 OR ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % $5 = $4);

-- name: OutboxDue
-- Messages due and unsent at $1: how many, and since when the oldest.
SELECT count(*), min(scheduled_for)
FROM reminder_sends
WHERE status IN ('pending', 'sending') AND scheduled_for <= $1 AND valid_until > $1;

-- name: InsertDeliverySession
INSERT INTO reminder_delivery_sessions (id, started_at, host, version, purpose, shard_index, shard_count,
                                        prev_session_id, prev_session_rows, prev_session_head, head)
VALUES ($11, $1, $2, $3, $4, $5, $6, nullif($7::bigint, 0), $8, nullif($9, ''), $10);

-- name: NextDeliverySessionID
SELECT nextval('reminder_delivery_sessions_id_seq');

-- name: PreviousDeliverySession
-- The newest session before $1, with its chain as it stands.
SELECT id, events, head
FROM reminder_delivery_sessions
WHERE id < $1
ORDER BY id DESC
LIMIT 1;

-- name: AppendDeliveries
-- A batch of events of one session ($1), ids reserved in chain order.
INSERT INTO reminder_deliveries (id, session_id, send_id, at, event, reason, provider, provider_message_id, attempt,
                                 details, prev_hash, hash)
SELECT id, $1, send_id, at, event, reason, provider, provider_message_id, attempt, details::jsonb, prev_hash, hash
FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::int[], $10::text[], $11::text[], $12::text[])
     AS t (id, send_id, at, event, reason, provider, provider_message_id, attempt, details, prev_hash, hash);

-- name: AdvanceDeliverySession
-- Moves the session's head from $4 to $3 over $2 more events: nothing when
-- the head is not $4 (someone else appended).
UPDATE reminder_delivery_sessions SET events = events + $2, head = $3
WHERE id = $1 AND head = $4 AND ended_at IS NULL;

-- name: EndDeliverySession
UPDATE reminder_delivery_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL;

-- name: DeliveriesOfSends
-- The trail of these messages, in order.
SELECT d.send_id, d.at, d.event, d.reason, d.provider, d.provider_message_id, d.attempt, d.details::text
FROM reminder_deliveries d
WHERE d.send_id = ANY($1::bigint[])
ORDER BY d.send_id, d.at, d.session_id, d.id;

-- name: DeliverySessions
-- Every session, for verification.
SELECT id, started_at, host, version, purpose, shard_index, shard_count, coalesce(prev_session_id, 0),
       coalesce(prev_session_rows, 0), coalesce(prev_session_head, ''), events, head, ended_at
FROM reminder_delivery_sessions
ORDER BY id;

-- name: DeliveryChain
-- One session's events ($1), or every session's (0), in chain order, as
-- hashed.
SELECT session_id, id, send_id, at, event, reason, provider, provider_message_id, attempt, details::text, prev_hash, hash
FROM reminder_deliveries
WHERE $1 = 0 OR session_id = $1
ORDER BY session_id, id;

-- name: OrphanDeliveries
-- Sessions named by events but missing from the sessions table.
SELECT DISTINCT d.session_id
FROM reminder_deliveries d
WHERE NOT EXISTS (SELECT 1 FROM reminder_delivery_sessions s WHERE s.id = d.session_id)
ORDER BY 1;

-- name: StatusesWithoutTrail
-- Messages whose status the trail does not show: moved behind the
-- sender's back. Each status but pending has its event (sending: claimed);
-- a pending message that was tried has a retry.
SELECT s.id, s.run_id, s.status
FROM reminder_sends s
WHERE (s.status <> 'pending' OR s.attempts > 0)
  AND ($1::bigint[] IS NULL OR s.run_id = ANY($1::bigint[]))
  AND NOT EXISTS (
    SELECT 1 FROM reminder_deliveries d
    WHERE d.send_id = s.id
      AND d.event = CASE s.status WHEN 'sending' THEN 'claimed' WHEN 'pending' THEN 'retry' ELSE s.status END)
ORDER BY s.id
LIMIT $2;

-- name: UnvouchedReleases
-- Released ledger items that the trail and the audit do not vouch for:
-- their message did not expire, the trail shows no expiry of it, or no
-- audit row of its run queued the item for it.
SELECT r.send_id, coalesce(s.run_id, 0), r.installment_id, r.stage, r.channel
FROM reminder_released_items r
LEFT JOIN reminder_sends s ON s.id = r.send_id
WHERE ($1::bigint[] IS NULL OR s.run_id = ANY($1::bigint[]))
  AND (s.status IS DISTINCT FROM 'expired'
    OR NOT EXISTS (SELECT 1 FROM reminder_deliveries d WHERE d.send_id = r.send_id AND d.event = 'expired')
    OR NOT EXISTS (
      SELECT 1 FROM reminder_audit a
      WHERE a.run_id = s.run_id AND a.installment_id = r.installment_id AND a.send_id = r.send_id
        AND a.loan_id = r.loan_id AND a.stage = r.stage AND a.channel = r.channel
        AND a.decision IN ('queued', 'deferred')))
ORDER BY r.send_id, r.installment_id
LIMIT $2;
