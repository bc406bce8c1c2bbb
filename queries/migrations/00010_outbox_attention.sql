-- The console's overview counts the messages that need a person, in the
-- whole outbox however old: refused (the audit chain did not vouch for
-- the message as it stood) and unknown (a provider without idempotency
-- may have sent it before the sender stopped; never resent). Both are
-- rare, so a partial index on them is small and costs the sender nothing
-- for the other statuses; pending and sending have their partial indexes
-- already (migration 00008). The other statuses grow with every run and
-- are counted for the recent runs only (the BRIN index on run_id).
-- +goose Up
CREATE INDEX reminder_sends_attention_idx ON reminder_sends (status)
    WHERE status IN ('refused', 'unknown');

-- +goose Down
DROP INDEX reminder_sends_attention_idx;
