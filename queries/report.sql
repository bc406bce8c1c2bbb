-- Statements of the figures a report prints about a run.

-- name: SMSOfRun
-- The locale and text of every SMS of a run: the report counts their parts
-- and encodings from the texts, as the carrier will (the encoding is not
-- stored). The run's sends are found by the BRIN index on run_id.
SELECT locale, body
FROM reminder_sends
WHERE run_id = $1 AND channel = 'sms';
