-- The outbox is sent from, so it must hold only what the audit vouches for.
-- Every queued or deferred audit row records, in its hashed details, the
-- hash of its message as the job wrote it (recipient, subject, body and
-- window): reminder_message_sha256 computes the same hash from a
-- reminder_sends row, so that `audit verify` and the sender can compare a
-- message with what the chain says of it. The Go side is
-- audit.MessageDigest; a test holds the two equal. STABLE, as convert_to
-- is: the planner then inlines it (an IMMUTABLE one over a STABLE body is
-- called through the SQL function executor, 28 µs a message instead of 1).
--
-- The phone cache keeps a keyed hash (HMAC with the audit key, which is not
-- in the database) of each parse: the job's role can write the cache, so a
-- parse whose hash does not match is parsed again, and an e164 changed
-- behind the job's back is never texted. Entries cached before this have
-- none, and are parsed once more. Each parse also keeps the number's
-- country and, for a North American number, its state or province (ISO
-- 3166-2, from libphonenumber's geocoding): candidate regions whose rules
-- apply to a borrower whatever their own region says (or when it says
-- nothing), found once per number rather than on every run.
--
-- The job's role loses what it does not use: it updates only the columns of
-- its run record that a run changes, and only the columns of the phone
-- cache that a parse fills.

-- +goose Up
CREATE FUNCTION reminder_message_sha256(channel text, recipient text, subject text, body text,
                                        scheduled_for timestamptz, valid_until timestamptz)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(
        'loanremind.message.v1'
        || octet_length(channel) || ':' || channel
        || octet_length(recipient) || ':' || recipient
        || octet_length(coalesce(subject, '')) || ':' || coalesce(subject, '')
        || octet_length(body) || ':' || body
        || (extract(epoch FROM scheduled_for) * 1000000)::bigint || ';'
        || (extract(epoch FROM valid_until) * 1000000)::bigint || ';', 'UTF8')), 'hex')
$$;

ALTER TABLE reminder_phone_cache ADD COLUMN mac text NOT NULL DEFAULT '',
                                 ADD COLUMN country text NOT NULL DEFAULT '',
                                 ADD COLUMN subdivisions text[] NOT NULL DEFAULT '{}';

REVOKE UPDATE ON reminder_runs FROM loanremind_job;
GRANT UPDATE (finished_at, status, candidates, messages, queued, deferred, suppressed, skipped, expired, error,
              audit_rows, audit_head, seal) ON reminder_runs TO loanremind_job;

-- +goose Down
REVOKE UPDATE (finished_at, status, candidates, messages, queued, deferred, suppressed, skipped, expired, error,
               audit_rows, audit_head, seal) ON reminder_runs FROM loanremind_job;
GRANT UPDATE ON reminder_runs TO loanremind_job;
ALTER TABLE reminder_phone_cache DROP COLUMN mac, DROP COLUMN country, DROP COLUMN subdivisions;
DROP FUNCTION reminder_message_sha256(text, text, text, text, timestamptz, timestamptz);
