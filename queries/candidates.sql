-- The selection: the candidate installments of one run.

-- name: StreamCandidates
-- Every open installment whose due date puts it in a stage on the run's
-- business date ($1: due dates, $2: the stage of each), in borrower order,
-- without what the ledger already holds for that stage. $3, $4: the
-- shard index and count (borrowers partitioned by a stable hash of their
-- id). $5: the phone region of borrowers without a region. The amount
-- predicate is the one of installments_open_due_date_idx; rows with negative
-- amounts come through so that the job can report them.
--
-- The ledger's one exception: an installment comes through again for a
-- stage when a channel of it was given back (reminder_released_items: its
-- message expired unsent) and is neither in the ledger again nor finally
-- decided, even though another of its channels is (an sms skipped, its
-- email fallback released); decided lists those other channels
-- ("sms", "email", or both, comma-separated), which the run leaves alone. It is ''
-- for every other row: those come from the first part, as they always did,
-- and the second reads only the released items.
SELECT b.id,
       coalesce(b.full_name, '') AS full_name,
       coalesce(b.phone, '') AS phone,
       coalesce(b.email, '') AS email,
       coalesce(b.locale, '') AS locale,
       coalesce(b.time_zone, '') AS time_zone,
       coalesce(b.region, '') AS region,
       coalesce(b.sms_opt_out, false) AS sms_opt_out,
       coalesce(b.email_opt_out, false) AS email_opt_out,
       coalesce(b.do_not_contact, false) AS do_not_contact,
       c.loan_id,
       coalesce(c.account_ref, '') AS account_ref,
       coalesce(c.currency, '') AS currency,
       coalesce(c.status, '') AS status,
       c.id AS installment_id,
       c.seq,
       (c.due_date - DATE '1970-01-01') AS due_day,
       c.amount_due_minor,
       c.amount_paid_minor,
       c.stage,
       coalesce(pc.raw = b.phone
                AND pc.region = CASE WHEN b.region ~ '^[A-Za-z]{2}(-|$)' THEN upper(left(b.region, 2)) ELSE $5 END,
                false) AS phone_cached,
       pc.borrower_id IS NOT NULL AS phone_cache_row,
       coalesce(pc.valid, false) AS phone_valid,
       coalesce(pc.e164, '') AS phone_e164,
       coalesce(array_to_string(pc.time_zones, ','), '') AS phone_zones,
       coalesce(pc.country, '') AS phone_country,
       coalesce(array_to_string(pc.subdivisions, ','), '') AS phone_subdivisions,
       coalesce(pc.mac, '') AS phone_mac,
       c.decided
FROM (
    -- The open installments in a stage, with their loans, in this shard.
    -- OFFSET 0 keeps the planner from starting at the borrowers instead: a
    -- shard filter it cannot estimate makes that look cheap, and it would
    -- read every borrower's loans.
    (SELECT st.stage, i.id, i.seq, i.due_date, i.amount_due_minor, i.amount_paid_minor,
            l.id AS loan_id, l.borrower_id, l.account_ref, l.currency, l.status, '' AS decided
     FROM unnest($1::date[], $2::text[]) AS st (due_date, stage)
     JOIN installments i ON i.due_date = st.due_date
     JOIN loans l ON l.id = i.loan_id
     WHERE (i.amount_paid_minor < i.amount_due_minor OR i.amount_due_minor < 0 OR i.amount_paid_minor < 0)
       AND ($4 = 1 OR ('x' || left(md5(l.borrower_id::text), 7))::bit(28)::int % $4 = $3)
       AND NOT EXISTS (SELECT 1 FROM reminder_send_items s WHERE s.installment_id = i.id AND s.stage = st.stage)
       AND NOT EXISTS (SELECT 1 FROM reminder_decisions d WHERE d.installment_id = i.id AND d.stage = st.stage)
     OFFSET 0)
    UNION ALL
    -- Given back, not planned again, with another channel decided (with
    -- none, the first part has it): read from the released items alone,
    -- each key's channels looked up in the ledger and the decisions by its
    -- installment and stage.
    SELECT DISTINCT ON (ri.id, ri.stage)
           ri.stage, ri.id, ri.seq, ri.due_date, ri.amount_due_minor, ri.amount_paid_minor,
           l.id AS loan_id, l.borrower_id, l.account_ref, l.currency, l.status, k.decided
    FROM (
        SELECT r.stage, r.channel, i.id, i.seq, i.due_date, i.amount_due_minor, i.amount_paid_minor, i.loan_id
        FROM reminder_released_items r
        JOIN installments i ON i.id = r.installment_id
        WHERE r.stage = ANY($2::text[])
          AND (i.amount_paid_minor < i.amount_due_minor OR i.amount_due_minor < 0 OR i.amount_paid_minor < 0)
        OFFSET 0
    ) AS ri
    JOIN unnest($1::date[], $2::text[]) AS st (due_date, stage) ON st.due_date = ri.due_date AND st.stage = ri.stage
    JOIN loans l ON l.id = ri.loan_id
    CROSS JOIN LATERAL (
        SELECT string_agg(x.channel, ',') AS decided
        FROM (SELECT s.channel FROM reminder_send_items s WHERE s.installment_id = ri.id AND s.stage = ri.stage
              UNION ALL
              SELECT d.channel FROM reminder_decisions d WHERE d.installment_id = ri.id AND d.stage = ri.stage) AS x
    ) AS k
    WHERE ($4 = 1 OR ('x' || left(md5(l.borrower_id::text), 7))::bit(28)::int % $4 = $3)
      AND k.decided IS NOT NULL
      AND NOT ri.channel = ANY(string_to_array(k.decided, ','))
) AS c
JOIN borrowers b ON b.id = c.borrower_id
-- The cached parse counts only if it is of the number and region as they
-- are now (phone_cached); a stale one (phone_cache_row) is replaced.
LEFT JOIN reminder_phone_cache pc ON pc.borrower_id = b.id
ORDER BY b.id, c.loan_id, c.seq, c.id;

-- name: ExistingSends
-- The borrowers' sends that frequency caps count: those that may still be
-- delivered or were, scheduled after $2. A message reached the carrier
-- when it is undelivered, and may have when it is unknown; a cancelled,
-- refused, failed or expired one never left.
SELECT id, borrower_id, channel, scheduled_for
FROM reminder_sends
WHERE borrower_id = ANY($1::bigint[])
  AND scheduled_for > $2
  AND status IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'unknown');

-- name: OtherSends
-- The same set, without this run's own ($3), as a count and a sum of ids:
-- the write transaction compares them with what the batch was planned with,
-- to notice a concurrent run's sends, or a send the sender gave up on
-- while another took its place.
SELECT count(*), coalesce(sum(id), 0)::bigint
FROM reminder_sends
WHERE borrower_id = ANY($1::bigint[])
  AND scheduled_for > $2
  AND status IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'unknown')
  AND run_id <> $3;

-- name: QuietWindows
SELECT borrower_id,
       coalesce(array_to_string(weekdays, ','), '') AS weekdays,
       weekdays IS NULL AS every_day,
       extract(epoch FROM starts_at)::int AS starts_at,
       extract(epoch FROM ends_at)::int AS ends_at,
       coalesce(valid_from - DATE '1970-01-01', 0) AS valid_from,
       coalesce(valid_to - DATE '1970-01-01', 0) AS valid_to
FROM borrower_quiet_windows
WHERE borrower_id = ANY($1::bigint[])
ORDER BY borrower_id, id;

-- name: Holidays
SELECT region, (date - DATE '1970-01-01') AS day
FROM holidays
WHERE date BETWEEN $1 AND $2
ORDER BY region, date;

-- name: SelectionStart
-- When this run's selection began, by the database's clock.
SELECT now();

-- name: OtherRunsSince
-- Whether a run other than $1 may have decided anything since $2, the start
-- of this run's selection: one still running, or one that ended since (give
-- or take five minutes of skew between the clocks of the job's hosts).
SELECT EXISTS (
    SELECT 1 FROM reminder_runs
    WHERE id <> $1 AND status <> 'skipped'
      AND (finished_at IS NULL OR finished_at > $2::timestamptz - interval '5 minutes'));

-- name: KeysDecidedTwice
-- How many keys of this batch ($1: its installments, $2: the run, $3: its
-- sends) the ledger and the final decisions both hold: another run decided
-- them the other way since this run's selection. The unique keys of the two
-- tables do not see each other.
SELECT count(*)
FROM reminder_send_items s
JOIN reminder_decisions d ON d.installment_id = s.installment_id AND d.stage = s.stage AND d.channel = s.channel
WHERE s.installment_id = ANY($1::bigint[])
  AND (d.run_id = $2 OR s.send_id = ANY($3::bigint[]));

-- name: ClaimedKeys
-- Which of these installments already have a decision for their stage, on
-- which channel: written by a concurrent run after this run's selection,
-- or, for a channel given back, before it (the candidate's decided).
SELECT installment_id, stage, channel
FROM reminder_send_items
WHERE installment_id = ANY($1::bigint[])
UNION
SELECT installment_id, stage, channel
FROM reminder_decisions
WHERE installment_id = ANY($1::bigint[]);
