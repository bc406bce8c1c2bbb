-- What the audit vouches for: the outbox and the ledger compared with the
-- audit rows that decided them (migration 00007). $1 is the runs to check,
-- or NULL for every row of the table, whatever run it names, existing or
-- not. No LIMIT: with one the planner walks an index row by row in the hope
-- of stopping early, where a hash or merge anti-join over the tables is
-- several times faster; the caller stops reading at its limit.

-- name: UnvouchedSends
-- Messages that no queued or deferred audit row of their run names with
-- their borrower, channel, window and message hash: planted, or changed
-- after the job wrote them.
SELECT s.id, s.run_id
FROM reminder_sends s
WHERE ($1::bigint[] IS NULL OR s.run_id = ANY($1::bigint[]))
  AND NOT EXISTS (
    SELECT 1 FROM reminder_audit a
    WHERE a.run_id = s.run_id AND a.send_id = s.id AND a.decision IN ('queued', 'deferred')
      AND a.borrower_id = s.borrower_id AND a.channel = s.channel
      AND a.scheduled_for = s.scheduled_for AND a.valid_until = s.valid_until
      AND a.details->>'message_sha256' = reminder_message_sha256(s.channel, s.recipient, s.subject, s.body,
                                                                 s.scheduled_for, s.valid_until))
ORDER BY s.id;

-- name: UnvouchedSendItems
-- Ledger items that no audit row of their message's run queued or deferred
-- for that message, installment, loan, stage, channel and amount. An item
-- whose message is missing is one too.
SELECT i.send_id, coalesce(s.run_id, 0), i.installment_id, i.stage, i.channel
FROM reminder_send_items i
LEFT JOIN reminder_sends s ON s.id = i.send_id
WHERE ($1::bigint[] IS NULL OR s.run_id = ANY($1::bigint[]))
  AND NOT EXISTS (
    SELECT 1 FROM reminder_audit a
    WHERE a.run_id = s.run_id AND a.installment_id = i.installment_id AND a.send_id = i.send_id
      AND a.loan_id = i.loan_id AND a.stage = i.stage AND a.channel = i.channel
      AND a.decision IN ('queued', 'deferred')
      AND (a.details->>'amount_due_minor')::bigint - (a.details->>'amount_paid_minor')::bigint = i.amount_minor)
ORDER BY i.send_id, i.installment_id, i.stage, i.channel;

-- name: UnvouchedDecisions
-- Final decisions that no audit row of their run made, with the same
-- decision and reason: a planted one silences an installment's reminders.
SELECT d.run_id, d.installment_id, d.stage, d.channel, d.decision, d.reason
FROM reminder_decisions d
WHERE ($1::bigint[] IS NULL OR d.run_id = ANY($1::bigint[]))
  AND NOT EXISTS (
    SELECT 1 FROM reminder_audit a
    WHERE a.run_id = d.run_id AND a.installment_id = d.installment_id AND a.stage = d.stage
      AND a.channel = d.channel AND a.decision = d.decision AND a.reason = d.reason AND a.send_id IS NULL)
ORDER BY d.run_id, d.installment_id, d.stage, d.channel;

-- name: SendsToVouch
-- The messages a sender is about to claim, with the hash of what each says
-- now, and its run's record for the chain's header and head.
SELECT s.id, s.run_id,
       reminder_message_sha256(s.channel, s.recipient, s.subject, s.body, s.scheduled_for, s.valid_until),
       s.borrower_id, s.channel, s.scheduled_for, s.valid_until,
       (SELECT count(*) FROM reminder_send_items i WHERE i.send_id = s.id)
FROM reminder_sends s
WHERE s.id = ANY($1::bigint[]);

-- name: VouchingRows
-- For each item of the messages ($1), the audit rows of the message's run
-- that name it for that message, whole (as hashed), with the hashes of the
-- rows before and after it in the run's chain.
SELECT i.send_id, i.installment_id, i.loan_id, i.stage AS item_stage, i.channel AS item_channel, i.amount_minor,
       a.id, a.run_id, a.at, a.borrower_id, a.loan_id, a.installment_id, a.stage, a.channel, a.decision, a.reason,
       coalesce(a.send_id, 0), a.scheduled_for, a.valid_until, a.time_zones::text, a.policy_sha256,
       a.details::text, a.prev_hash, a.hash,
       coalesce((SELECT p.hash FROM reminder_audit p WHERE p.run_id = a.run_id AND p.id < a.id
                 ORDER BY p.run_id DESC, p.id DESC LIMIT 1), ''),
       coalesce((SELECT n.prev_hash FROM reminder_audit n WHERE n.run_id = a.run_id AND n.id > a.id
                 ORDER BY n.run_id, n.id LIMIT 1), '')
FROM reminder_send_items i
JOIN reminder_sends s ON s.id = i.send_id
JOIN reminder_audit a ON a.installment_id = i.installment_id AND a.run_id = s.run_id AND a.send_id = s.id
WHERE i.send_id = ANY($1::bigint[])
ORDER BY i.send_id, a.id;
