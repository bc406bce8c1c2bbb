-- Pruning lifted the append-only trigger with ALTER TABLE, whose lock on
-- reminder_audit lasted the whole prune and held up every run's audit rows
-- meanwhile (past lock_timeout: the hourly run failed). Now the trigger
-- itself lets the table owner delete audit rows inside a transaction that
-- says it prunes (`loanremind audit prune` sets loanremind.prune). Nothing
-- else changes: updates and truncation stay refused for everyone, the
-- events stay untouchable, and the job's role may not delete at all.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION reminder_audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'reminder_audit'
       AND current_setting('loanremind.prune', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'loanremind: % on % is not allowed: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old runs are removed only by "loanremind audit prune", which records its own audit event';
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION reminder_audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'loanremind: % on % is not allowed: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old runs are removed only by "loanremind audit prune", which records its own audit event';
END
$$;
-- +goose StatementEnd
