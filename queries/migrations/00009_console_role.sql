-- The compliance console (`loanremind console`) reads everything and writes
-- only administrative events (reveals and unmasked exports, recorded before
-- the data is shown): the NOLOGIN role loanremind_console may SELECT the
-- lender's and the job's tables and INSERT into reminder_audit_events, and
-- nothing else. Grant it to a login role (see README).
--
-- And the indexes its pages need, so that no page scans the audit:
--   - a run's decisions by stage, channel, decision and reason: an
--     index-only scan of the run's entries (a 296,440-row run has a few
--     dozen distinct keys, which B-tree deduplication stores compactly and
--     the job appends to in one place per key);
--   - a search by phone number or email: the keyed hash the job stores in
--     details (contact_hmac), looked up as `audit export --contact` does. A
--     hash index stores 4 bytes per row whatever the key, and answers the
--     only question asked, equality;
--   - a borrower's timeline: the events that name the borrower.
-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE loanremind_console NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- +goose StatementEnd

GRANT SELECT ON borrowers, loans, installments, borrower_quiet_windows, holidays TO loanremind_console;
GRANT SELECT ON reminder_runs, reminder_sends, reminder_send_items, reminder_decisions, reminder_audit,
    reminder_audit_events, reminder_phone_cache TO loanremind_console;
GRANT INSERT ON reminder_audit_events TO loanremind_console;
GRANT USAGE ON SEQUENCE reminder_audit_events_id_seq TO loanremind_console;

-- The sender's delivery trail (migration 00008), which pages and audit
-- verify read.
GRANT SELECT ON reminder_deliveries, reminder_delivery_sessions, reminder_released_items TO loanremind_console;

CREATE INDEX reminder_audit_breakdown_idx ON reminder_audit (run_id, stage, channel, decision, reason);
CREATE INDEX reminder_audit_contact_idx ON reminder_audit USING hash ((details->>'contact_hmac'));
CREATE INDEX reminder_audit_events_borrower_idx ON reminder_audit_events ((details->>'borrower'))
    WHERE details ? 'borrower';

-- +goose Down
DROP INDEX reminder_audit_events_borrower_idx;
DROP INDEX reminder_audit_contact_idx;
DROP INDEX reminder_audit_breakdown_idx;
REVOKE ALL ON reminder_deliveries, reminder_delivery_sessions, reminder_released_items FROM loanremind_console;
REVOKE ALL ON SEQUENCE reminder_audit_events_id_seq FROM loanremind_console;
REVOKE ALL ON borrowers, loans, installments, borrower_quiet_windows, holidays, reminder_runs, reminder_sends,
    reminder_send_items, reminder_decisions, reminder_audit, reminder_audit_events, reminder_phone_cache
    FROM loanremind_console;
