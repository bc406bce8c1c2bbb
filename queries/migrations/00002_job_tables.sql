-- The tables the job owns: runs, the outbox of messages (sends), the
-- idempotency ledger (send items and final decisions), and the audit trail.

-- +goose Up
CREATE TABLE reminder_runs (
    id               bigserial   PRIMARY KEY,
    mode             text        NOT NULL CONSTRAINT reminder_runs_mode_check CHECK (mode IN ('scheduled', 'manual', 'backfill')),
    as_of            timestamptz NOT NULL,
    business_date    date        NOT NULL,
    shard_index      int         NOT NULL DEFAULT 0,
    shard_count      int         NOT NULL DEFAULT 1,
    actor            text        NOT NULL,
    reason           text        NOT NULL DEFAULT '',
    host             text        NOT NULL DEFAULT '',   -- where the run came from (PCI DSS 10.2.2 origin)
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    status           text        NOT NULL CONSTRAINT reminder_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    send_late        boolean     NOT NULL DEFAULT false,
    config_sha256    text        NOT NULL,
    policy_sha256    text        NOT NULL,
    templates_sha256 text        NOT NULL,
    version          text        NOT NULL,
    candidates       bigint      NOT NULL DEFAULT 0,
    messages         bigint      NOT NULL DEFAULT 0,
    queued           bigint      NOT NULL DEFAULT 0,
    deferred         bigint      NOT NULL DEFAULT 0,
    suppressed       bigint      NOT NULL DEFAULT 0,
    skipped          bigint      NOT NULL DEFAULT 0,
    expired          bigint      NOT NULL DEFAULT 0,
    error            text,
    -- The run's audit chain: how many rows it holds and the hash of the last
    -- one, updated in the same transaction as each batch of rows; and the
    -- head of the previous run of the same shard when this one started.
    audit_rows       bigint      NOT NULL DEFAULT 0,
    audit_head       text,
    prev_run_id      bigint,
    prev_run_head    text,
    -- Set when the run ends: a hash over audit_head and the final status,
    -- counts and error, so that editing them is detected.
    seal             text,
    CONSTRAINT reminder_runs_shard_check CHECK (shard_count >= 1 AND shard_index >= 0 AND shard_index < shard_count),
    CONSTRAINT reminder_runs_counts_check CHECK (candidates >= 0 AND messages >= 0 AND queued >= 0 AND deferred >= 0
        AND suppressed >= 0 AND skipped >= 0 AND expired >= 0 AND audit_rows >= 0)
);
CREATE INDEX reminder_runs_shard_idx ON reminder_runs (shard_count, shard_index, id);
CREATE INDEX reminder_runs_business_date_idx ON reminder_runs (business_date);

-- The outbox: one row per message. A sender delivers pending rows between
-- scheduled_for and valid_until, never after.
-- The job's high-volume tables name their run without a foreign key: the
-- check would cost every row of every run a lookup, and `audit verify`
-- reports rows whose run is missing.
CREATE TABLE reminder_sends (
    id              bigserial   PRIMARY KEY,
    run_id          bigint      NOT NULL,
    borrower_id     bigint      NOT NULL,
    channel         text        NOT NULL CONSTRAINT reminder_sends_channel_check CHECK (channel IN ('sms', 'email')),
    recipient       text        NOT NULL,
    locale          text        NOT NULL,
    template        text        NOT NULL,
    template_sha256 text        NOT NULL,
    subject         text,                       -- email only
    body            text        NOT NULL,
    segments        int         NOT NULL DEFAULT 0 CONSTRAINT reminder_sends_segments_check CHECK (segments >= 0),
    stage           text        NOT NULL,
    currency        char(3)     CONSTRAINT reminder_sends_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    total_due_minor bigint      CONSTRAINT reminder_sends_total_nonnegative CHECK (total_due_minor >= 0),
    scheduled_for   timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
        CONSTRAINT reminder_sends_status_check CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'expired', 'cancelled')),
    created_at      timestamptz NOT NULL,
    CONSTRAINT reminder_sends_total_currency CHECK ((currency IS NULL) = (total_due_minor IS NULL)),
    CONSTRAINT reminder_sends_validity CHECK (valid_until > scheduled_for)
);
-- Frequency caps count a borrower's sends by scheduled_for.
CREATE INDEX reminder_sends_borrower_scheduled_idx ON reminder_sends (borrower_id, scheduled_for);
-- What a sender polls.
CREATE INDEX reminder_sends_pending_idx ON reminder_sends (scheduled_for) WHERE status = 'pending';
CREATE INDEX reminder_sends_run_id_idx ON reminder_sends USING brin (run_id);

-- The idempotency ledger: an installment is reminded at most once per stage
-- and channel, whatever re-runs, overlaps, crashes or backfills happen.
CREATE TABLE reminder_send_items (
    send_id        bigint NOT NULL REFERENCES reminder_sends (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    installment_id bigint NOT NULL,
    loan_id        bigint NOT NULL,
    stage          text   NOT NULL,
    channel        text   NOT NULL CONSTRAINT reminder_send_items_channel_check CHECK (channel IN ('sms', 'email')),
    amount_minor   bigint NOT NULL,    -- what the message said was left to pay
    CONSTRAINT reminder_send_items_once UNIQUE (installment_id, stage, channel)
);
CREATE INDEX reminder_send_items_send_id_idx ON reminder_send_items (send_id);

-- Final decisions that produced no message (suppressed, skipped, expired):
-- made once per installment, stage and channel, so that an hourly job does
-- not re-decide or re-audit them. A lifted opt-out or a fixed phone number
-- takes effect from the next stage.
CREATE TABLE reminder_decisions (
    installment_id bigint      NOT NULL,
    stage          text        NOT NULL,
    channel        text        NOT NULL CONSTRAINT reminder_decisions_channel_check CHECK (channel IN ('sms', 'email')),
    run_id         bigint      NOT NULL,
    decision       text        NOT NULL CONSTRAINT reminder_decisions_decision_check CHECK (decision IN ('suppressed', 'skipped', 'expired')),
    reason         text        NOT NULL,
    decided_at     timestamptz NOT NULL,
    CONSTRAINT reminder_decisions_once UNIQUE (installment_id, stage, channel)
);
CREATE INDEX reminder_decisions_run_id_idx ON reminder_decisions USING brin (run_id);

-- The audit trail: one row per decision about one installment, stage and
-- channel. Append-only (see the next migration) and hash-chained per run:
-- hash = SHA-256 over the row's content and prev_hash.
CREATE TABLE reminder_audit (
    id             bigserial   NOT NULL,
    run_id         bigint      NOT NULL,
    at             timestamptz NOT NULL,
    borrower_id    bigint      NOT NULL,
    loan_id        bigint      NOT NULL,
    installment_id bigint      NOT NULL,
    stage          text        NOT NULL,
    channel        text        NOT NULL,
    decision       text        NOT NULL CONSTRAINT reminder_audit_decision_check CHECK (decision IN ('queued', 'deferred', 'suppressed', 'skipped', 'expired')),
    reason         text        NOT NULL,
    send_id        bigint,
    scheduled_for  timestamptz,
    valid_until    timestamptz,
    time_zones     jsonb       NOT NULL,
    policy_sha256  text        NOT NULL,
    details        jsonb       NOT NULL,
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL,
    -- A run's chain in order; ids are unique on their own (a sequence)
    -- and found through the BRIN index on id.
    PRIMARY KEY (run_id, id)
);
CREATE INDEX reminder_audit_id_idx ON reminder_audit USING brin (id);
CREATE INDEX reminder_audit_installment_idx ON reminder_audit (installment_id);
CREATE INDEX reminder_audit_borrower_idx ON reminder_audit (borrower_id);
CREATE INDEX reminder_audit_at_idx ON reminder_audit USING brin (at);

-- Administrative events that are not decisions (pruning, unmasked exports),
-- chained the same way.
CREATE TABLE reminder_audit_events (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    event     text        NOT NULL,
    details   jsonb       NOT NULL,
    prev_hash text        NOT NULL,
    hash      text        NOT NULL
);

-- Parsed phone numbers: parsing costs about 26 µs a number, so each
-- borrower's number is parsed once, and again only when it changes (raw
-- and region are the parse's input, compared on every read). Keyed by
-- borrower, so a run appends to the index in borrower order. Unlogged: a
-- cache lost in a crash costs a parse, not a WAL write per row.
CREATE UNLOGGED TABLE reminder_phone_cache (
    borrower_id bigint  PRIMARY KEY,
    raw         text    NOT NULL,
    region      text    NOT NULL,
    e164        text    NOT NULL DEFAULT '',
    valid       boolean NOT NULL,
    time_zones  text[]  NOT NULL DEFAULT '{}'
);

-- +goose Down
DROP TABLE reminder_phone_cache;
DROP TABLE reminder_audit_events;
DROP TABLE reminder_audit;
DROP TABLE reminder_decisions;
DROP TABLE reminder_send_items;
DROP TABLE reminder_sends;
DROP TABLE reminder_runs;
