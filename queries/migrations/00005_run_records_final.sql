-- A run record may change only while its run is running, and only as the
-- run does: its counters and chain head grow with each batch, and it ends
-- once, with a status, an error and a seal. Its header (what, when, who,
-- under which configuration, after which run) never changes, and an ended
-- run never runs again. Without this the job's role, which must update its
-- own record, could mark an ended run running again, and verification
-- trusts a running run's record for no more than the rows it has counted.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION reminder_runs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'running' THEN
        RAISE EXCEPTION 'loanremind: run % has ended (%): its record is final', OLD.id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.mode, NEW.as_of, NEW.business_date, NEW.shard_index, NEW.shard_count, NEW.actor, NEW.reason,
        NEW.host, NEW.started_at, NEW.send_late, NEW.config_sha256, NEW.policy_sha256, NEW.templates_sha256,
        NEW.version, NEW.prev_run_id, NEW.prev_run_head)
       IS DISTINCT FROM
       (OLD.id, OLD.mode, OLD.as_of, OLD.business_date, OLD.shard_index, OLD.shard_count, OLD.actor, OLD.reason,
        OLD.host, OLD.started_at, OLD.send_late, OLD.config_sha256, OLD.policy_sha256, OLD.templates_sha256,
        OLD.version, OLD.prev_run_id, OLD.prev_run_head) THEN
        RAISE EXCEPTION 'loanremind: the header of run % never changes', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.audit_rows < OLD.audit_rows OR NEW.candidates < OLD.candidates OR NEW.messages < OLD.messages
       OR NEW.queued < OLD.queued OR NEW.deferred < OLD.deferred OR NEW.suppressed < OLD.suppressed
       OR NEW.skipped < OLD.skipped OR NEW.expired < OLD.expired THEN
        RAISE EXCEPTION 'loanremind: the counts of run % only grow', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'running' AND NEW.seal IS NOT NULL THEN
        RAISE EXCEPTION 'loanremind: run % is sealed only as it ends', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER reminder_runs_final BEFORE UPDATE ON reminder_runs
    FOR EACH ROW EXECUTE FUNCTION reminder_runs_guard();

-- +goose Down
DROP TRIGGER reminder_runs_final ON reminder_runs;
DROP FUNCTION reminder_runs_guard();
