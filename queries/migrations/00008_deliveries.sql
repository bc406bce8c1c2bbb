-- The sender (`loanremind deliver`): the outbox's delivery state, the
-- delivery trail and its chains, the one exception to the ledger's "once",
-- and the sender's role.
--
-- Delivery state. A dispatcher claims a due message by moving it from
-- pending to sending, with attempts + 1 (the fence: a worker records an
-- outcome only while the message still carries its attempt and session),
-- the session that holds the claim and a lease. A transient error puts it
-- back to pending with retry_at; a claim whose lease ran out is taken over
-- (an idempotent provider) or becomes unknown (one that may have sent it).
--
-- The trail. reminder_deliveries is append-only and hash-chained like
-- reminder_audit, with one chain per delivery session (a dispatcher process
-- keeps one for its claims and one for its outcomes): the session record
-- keeps its chain's length and head, updated in the transaction that
-- appends each batch of events, so that many dispatchers append at once
-- without a global lock, and `audit verify` shows any row edited, deleted
-- or inserted. Each session links to the session before it as it stood
-- when it started. No phone number, address or body is in it.
--
-- The exception. The ledger (reminder_send_items) holds an installment,
-- stage and channel once, ever. A message that expired unsent (its window
-- passed while the sender or its provider was down) gives its ledger items
-- back, once: reminder_release_expired moves them to
-- reminder_released_items, whose unique key makes "once" hold there too,
-- and the next run plans them again, in the stage's next permissible
-- window. Items of a message that was itself such a second plan stay in
-- the ledger for good. The audit shows both messages; the trail shows the
-- release.

-- +goose Up
ALTER TABLE reminder_sends DROP CONSTRAINT reminder_sends_status_check;
ALTER TABLE reminder_sends ADD CONSTRAINT reminder_sends_status_check CHECK (status IN (
    'pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'expired', 'cancelled', 'refused', 'unknown'));
ALTER TABLE reminder_sends
    ADD COLUMN attempts            int NOT NULL DEFAULT 0 CONSTRAINT reminder_sends_attempts_check CHECK (attempts >= 0),
    ADD COLUMN claimed_by          bigint,          -- the delivery session of the current or last claim
    ADD COLUMN lease_until         timestamptz,     -- a claim past it may be taken over
    ADD COLUMN retry_at            timestamptz,     -- pending after a transient error: not before
    ADD COLUMN provider            text,            -- the configured provider's name
    ADD COLUMN provider_message_id text,
    ADD COLUMN sent_at             timestamptz,
    ADD COLUMN status_reason       text,            -- why it is cancelled, failed, refused, expired, unknown; the last error while retrying
    ADD COLUMN status_at           timestamptz;
-- Claims lapse by lease.
CREATE INDEX reminder_sends_sending_idx ON reminder_sends (lease_until) WHERE status = 'sending';
-- Receipts name a message by the provider's id.
CREATE INDEX reminder_sends_provider_message_idx ON reminder_sends (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

CREATE TABLE reminder_delivery_sessions (
    id                bigserial   PRIMARY KEY,
    started_at        timestamptz NOT NULL,
    host              text        NOT NULL,
    version           text        NOT NULL,
    purpose           text        NOT NULL CONSTRAINT reminder_delivery_sessions_purpose_check
                                           CHECK (purpose IN ('claims', 'outcomes')),
    shard_index       int         NOT NULL DEFAULT 0,
    shard_count       int         NOT NULL DEFAULT 1,
    -- The session before this one, as it stood when this one started.
    prev_session_id   bigint,
    prev_session_rows bigint,
    prev_session_head text,
    -- The chain: its length and last hash (the header's hash while empty),
    -- updated with each batch of events.
    events            bigint      NOT NULL DEFAULT 0 CONSTRAINT reminder_delivery_sessions_events_check CHECK (events >= 0),
    head              text        NOT NULL,
    ended_at          timestamptz
);

CREATE TABLE reminder_deliveries (
    id                  bigserial   NOT NULL,
    session_id          bigint      NOT NULL,
    send_id             bigint      NOT NULL,
    at                  timestamptz NOT NULL,
    event               text        NOT NULL CONSTRAINT reminder_deliveries_event_check CHECK (event IN (
        'claimed', 'sent', 'retry', 'failed', 'cancelled', 'refused', 'expired', 'unknown', 'delivered', 'undelivered')),
    reason              text        NOT NULL DEFAULT '',
    provider            text        NOT NULL DEFAULT '',
    provider_message_id text        NOT NULL DEFAULT '',
    attempt             int         NOT NULL,
    details             jsonb       NOT NULL,
    prev_hash           text        NOT NULL,
    hash                text        NOT NULL,
    -- A session's chain in order (ids come from one sequence).
    PRIMARY KEY (session_id, id)
);
CREATE INDEX reminder_deliveries_send_idx ON reminder_deliveries (send_id);
CREATE INDEX reminder_deliveries_at_idx ON reminder_deliveries USING brin (at);

CREATE TABLE reminder_released_items (
    send_id        bigint      NOT NULL,   -- the message that expired unsent
    installment_id bigint      NOT NULL,
    loan_id        bigint      NOT NULL,
    stage          text        NOT NULL,
    channel        text        NOT NULL,
    amount_minor   bigint      NOT NULL,
    released_at    timestamptz NOT NULL,
    CONSTRAINT reminder_released_items_once UNIQUE (installment_id, stage, channel)
);
CREATE INDEX reminder_released_items_send_idx ON reminder_released_items (send_id);

CREATE TRIGGER reminder_deliveries_append_only BEFORE UPDATE OR DELETE ON reminder_deliveries
    FOR EACH ROW EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_deliveries_no_truncate BEFORE TRUNCATE ON reminder_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_released_items_append_only BEFORE UPDATE OR DELETE ON reminder_released_items
    FOR EACH ROW EXECUTE FUNCTION reminder_audit_reject_change();
CREATE TRIGGER reminder_released_items_no_truncate BEFORE TRUNCATE ON reminder_released_items
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_audit_reject_change();

-- A session record changes only as its chain grows and once as it ends.
-- +goose StatementBegin
CREATE FUNCTION reminder_delivery_sessions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.started_at, NEW.host, NEW.version, NEW.purpose, NEW.shard_index, NEW.shard_count,
        NEW.prev_session_id, NEW.prev_session_rows, NEW.prev_session_head)
       IS DISTINCT FROM
       (OLD.id, OLD.started_at, OLD.host, OLD.version, OLD.purpose, OLD.shard_index, OLD.shard_count,
        OLD.prev_session_id, OLD.prev_session_rows, OLD.prev_session_head) THEN
        RAISE EXCEPTION 'loanremind: the header of delivery session % never changes', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.events < OLD.events OR (OLD.ended_at IS NOT NULL AND NEW IS DISTINCT FROM OLD) THEN
        RAISE EXCEPTION 'loanremind: delivery session % only grows, until it ends', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER reminder_delivery_sessions_final BEFORE UPDATE ON reminder_delivery_sessions
    FOR EACH ROW EXECUTE FUNCTION reminder_delivery_sessions_guard();
CREATE TRIGGER reminder_delivery_sessions_no_delete BEFORE DELETE ON reminder_delivery_sessions
    FOR EACH ROW EXECUTE FUNCTION reminder_audit_reject_change();

-- Gives back, once, the ledger items of expired messages ($1), at $2: each
-- item not released before moves to reminder_released_items. It runs as
-- the schema's owner, so that the sender, which may not touch the ledger,
-- can release the items of a message it expired, and nothing else.
-- +goose StatementBegin
CREATE FUNCTION reminder_release_expired(bigint[], timestamptz)
RETURNS TABLE (released_send_id bigint, released_installment_id bigint, released_stage text, released_channel text)
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    WITH released AS (
        INSERT INTO reminder_released_items (send_id, installment_id, loan_id, stage, channel, amount_minor, released_at)
        SELECT i.send_id, i.installment_id, i.loan_id, i.stage, i.channel, i.amount_minor, $2
        FROM reminder_send_items i
        JOIN reminder_sends s ON s.id = i.send_id
        WHERE i.send_id = ANY($1) AND s.status = 'expired'
        ORDER BY i.installment_id, i.stage, i.channel
        ON CONFLICT ON CONSTRAINT reminder_released_items_once DO NOTHING
        RETURNING send_id, installment_id, stage, channel
    )
    DELETE FROM reminder_send_items i
    USING released r
    WHERE i.send_id = r.send_id AND i.installment_id = r.installment_id AND i.stage = r.stage AND i.channel = r.channel
    RETURNING i.send_id, i.installment_id, i.stage, i.channel
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION reminder_release_expired(bigint[], timestamptz) FROM PUBLIC;

-- The role the sender runs as (NOLOGIN: grant it to a login role). It
-- reads the facts it re-checks and what vouching reads, moves messages
-- through their statuses, and appends to the trail.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE loanremind_sender NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- +goose StatementEnd
GRANT SELECT ON borrowers, loans, installments, reminder_phone_cache, reminder_runs, reminder_audit,
    reminder_send_items, reminder_released_items, reminder_sends, reminder_deliveries,
    reminder_delivery_sessions TO loanremind_sender;
GRANT UPDATE (status, attempts, claimed_by, lease_until, retry_at, provider, provider_message_id, sent_at,
              status_reason, status_at) ON reminder_sends TO loanremind_sender;
GRANT INSERT ON reminder_deliveries, reminder_delivery_sessions TO loanremind_sender;
GRANT UPDATE (events, head, ended_at) ON reminder_delivery_sessions TO loanremind_sender;
GRANT USAGE, SELECT ON SEQUENCE reminder_deliveries_id_seq, reminder_delivery_sessions_id_seq TO loanremind_sender;
GRANT EXECUTE ON FUNCTION reminder_release_expired(bigint[], timestamptz) TO loanremind_sender;
GRANT SELECT ON reminder_released_items TO loanremind_job;

-- +goose Down
REVOKE ALL ON reminder_released_items FROM loanremind_job;
REVOKE ALL ON borrowers, loans, installments, reminder_phone_cache, reminder_runs, reminder_audit,
    reminder_send_items, reminder_released_items, reminder_sends, reminder_deliveries,
    reminder_delivery_sessions FROM loanremind_sender;
REVOKE ALL ON SEQUENCE reminder_deliveries_id_seq, reminder_delivery_sessions_id_seq FROM loanremind_sender;
DROP FUNCTION reminder_release_expired(bigint[], timestamptz);
DROP TRIGGER reminder_delivery_sessions_no_delete ON reminder_delivery_sessions;
DROP TRIGGER reminder_delivery_sessions_final ON reminder_delivery_sessions;
DROP FUNCTION reminder_delivery_sessions_guard();
DROP TABLE reminder_released_items;
DROP TABLE reminder_deliveries;
DROP TABLE reminder_delivery_sessions;
DROP INDEX reminder_sends_provider_message_idx;
DROP INDEX reminder_sends_sending_idx;
ALTER TABLE reminder_sends
    DROP COLUMN status_at, DROP COLUMN status_reason, DROP COLUMN sent_at, DROP COLUMN provider_message_id,
    DROP COLUMN provider, DROP COLUMN retry_at, DROP COLUMN lease_until, DROP COLUMN claimed_by,
    DROP COLUMN attempts;
ALTER TABLE reminder_sends DROP CONSTRAINT reminder_sends_status_check;
ALTER TABLE reminder_sends ADD CONSTRAINT reminder_sends_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'expired', 'cancelled'));
