-- The server-side reference of `make bench`: the same grouped messages and
-- audit rows the job wrote for a run, produced by PostgreSQL alone with one
-- INSERT ... SELECT each, into tables shaped like the job's.

-- name: ReferenceSetup
DROP TABLE IF EXISTS bench_ref_sends, bench_ref_items, bench_ref_audit;
CREATE TABLE bench_ref_sends (LIKE reminder_sends INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench_ref_items (LIKE reminder_send_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench_ref_audit (LIKE reminder_audit INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);

-- name: ReferenceInsert
-- $1, $2: the run's due dates and stages; $3: the run. Candidates are
-- selected as the job selects them (without the ledger, which now holds
-- them), grouped per borrower and channel of the run's messages, rendered
-- with format(), and written with their ledger items and one audit row per
-- candidate, hashed with sha256.
WITH c AS (
    SELECT b.id AS borrower_id, coalesce(b.phone, '') AS phone, coalesce(b.locale, '') AS locale,
           l.id AS loan_id, l.account_ref, l.currency, l.status, i.id AS installment_id, i.seq, i.due_date,
           i.amount_due_minor - i.amount_paid_minor AS amount, st.stage
    FROM unnest($1::date[], $2::text[]) AS st (due_date, stage)
    JOIN installments i ON i.due_date = st.due_date
    JOIN loans l ON l.id = i.loan_id
    JOIN borrowers b ON b.id = l.borrower_id
    WHERE (i.amount_paid_minor < i.amount_due_minor OR i.amount_due_minor < 0 OR i.amount_paid_minor < 0)
),
m AS (
    SELECT DISTINCT borrower_id, channel FROM reminder_sends WHERE run_id = $3
),
g AS (
    SELECT nextval('reminder_sends_id_seq') AS id, c.borrower_id, m.channel, min(c.phone) AS recipient,
           min(c.locale) AS locale, max(c.stage) AS stage,
           '【安心金融】' || string_agg(format('尾号%s第%s期¥%s，%s到期', right(c.account_ref, 4), c.seq,
               to_char(c.amount / 100.0, 'FM999,999,990.00'), c.due_date), '；' ORDER BY c.due_date, c.loan_id)
               || '。请通过App还款，如已还款请忽略。回复TD退订' AS body,
           CASE WHEN count(DISTINCT c.currency) = 1 THEN min(c.currency) END AS currency,
           CASE WHEN count(DISTINCT c.currency) = 1 THEN sum(c.amount) END AS total
    FROM c JOIN m ON m.borrower_id = c.borrower_id
    WHERE c.status = 'active'
    GROUP BY c.borrower_id, m.channel
),
s AS (
    INSERT INTO bench_ref_sends (id, run_id, borrower_id, channel, recipient, locale, template, template_sha256,
                                 body, segments, stage, currency, total_due_minor, scheduled_for, valid_until, created_at)
    SELECT id, $3, borrower_id, channel, recipient, locale, 'sms/' || stage || '.tmpl', md5(stage), body,
           (length(body) + 66) / 67, stage, currency, total, now(), now() + interval '1 hour', now()
    FROM g
    RETURNING id, borrower_id, channel
),
it AS (
    INSERT INTO bench_ref_items (send_id, installment_id, loan_id, stage, channel, amount_minor)
    SELECT s.id, c.installment_id, c.loan_id, c.stage, s.channel, c.amount
    FROM c JOIN s ON s.borrower_id = c.borrower_id
    WHERE c.status = 'active'
)
INSERT INTO bench_ref_audit (run_id, at, borrower_id, loan_id, installment_id, stage, channel, decision, reason,
                             send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
SELECT $3, now(), c.borrower_id, c.loan_id, c.installment_id, c.stage, coalesce(s.channel, 'sms'),
       CASE WHEN s.id IS NULL THEN 'suppressed' ELSE 'queued' END, '', s.id, now(), now() + interval '1 hour',
       jsonb_build_array(jsonb_build_object('zone', 'Asia/Shanghai', 'source', 'time_zone')), md5('policy'),
       jsonb_build_object('seq', c.seq, 'due_date', c.due_date, 'amount_due_minor', c.amount, 'currency', c.currency),
       '', encode(sha256(convert_to(concat_ws('|', c.installment_id, c.stage, c.amount, s.id), 'UTF8')), 'hex')
FROM c LEFT JOIN s ON s.borrower_id = c.borrower_id AND c.status = 'active';

-- name: ReferenceCounts
SELECT (SELECT count(*) FROM bench_ref_sends), (SELECT count(*) FROM bench_ref_audit);

-- name: ReferenceDrop
DROP TABLE IF EXISTS bench_ref_sends, bench_ref_items, bench_ref_audit;

-- name: VerifyReference
-- PostgreSQL alone reading one run's audit rows in chain order (as
-- AuditChain does, after ChainSettings) and writing them out as text, with
-- no client to send them to: the least that verifying the run costs the
-- server. COPY takes no parameters: the run's id is formatted in.
COPY (SELECT id, at, borrower_id, loan_id, installment_id, stage, channel, decision, reason, send_id,
             scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash
      FROM reminder_audit WHERE run_id = %d ORDER BY run_id, id) TO '/dev/null';
