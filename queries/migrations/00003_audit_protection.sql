-- The audit trail is append-only (PCI DSS v4 10.3.2): a trigger rejects
-- UPDATE, DELETE and TRUNCATE for everyone, the table owner included, and the
-- role the job runs as may only read and insert. Pruning old runs (retention)
-- is a privileged operation of the table owner, which lifts the trigger inside
-- its own transaction and records an event of its own.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION reminder_audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'loanremind: % on % is not allowed: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old runs are removed only by "loanremind audit prune", which records its own audit event';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER reminder_audit_append_only BEFORE UPDATE OR DELETE ON reminder_audit
    FOR EACH ROW EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_audit_no_truncate BEFORE TRUNCATE ON reminder_audit
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_audit_events_append_only BEFORE UPDATE OR DELETE ON reminder_audit_events
    FOR EACH ROW EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_audit_events_no_truncate BEFORE TRUNCATE ON reminder_audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_audit_reject_change();

-- The role the job runs as (NOLOGIN: grant it to a login role, see README).
-- Roles belong to the whole cluster, so another database may have made it.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE loanremind_job NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- +goose StatementEnd

GRANT SELECT ON borrowers, loans, installments, borrower_quiet_windows, holidays TO loanremind_job;
GRANT SELECT, INSERT, UPDATE ON reminder_runs, reminder_phone_cache TO loanremind_job;
GRANT SELECT, INSERT ON reminder_sends, reminder_send_items, reminder_decisions,
    reminder_audit, reminder_audit_events, reminder_phone_cache TO loanremind_job;
GRANT USAGE, SELECT ON SEQUENCE reminder_runs_id_seq, reminder_sends_id_seq,
    reminder_audit_id_seq, reminder_audit_events_id_seq TO loanremind_job;

-- +goose Down
REVOKE ALL ON borrowers, loans, installments, borrower_quiet_windows, holidays, reminder_runs,
    reminder_sends, reminder_send_items, reminder_decisions, reminder_audit, reminder_audit_events,
    reminder_phone_cache FROM loanremind_job;
REVOKE ALL ON SEQUENCE reminder_runs_id_seq, reminder_sends_id_seq, reminder_audit_id_seq,
    reminder_audit_events_id_seq FROM loanremind_job;
DROP TRIGGER reminder_audit_events_no_truncate ON reminder_audit_events;
DROP TRIGGER reminder_audit_events_append_only ON reminder_audit_events;
DROP TRIGGER reminder_audit_no_truncate ON reminder_audit;
DROP TRIGGER reminder_audit_append_only ON reminder_audit;
DROP FUNCTION reminder_audit_reject_change();
