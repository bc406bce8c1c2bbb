-- Administration of whole databases: the demo's throwaway one.

-- name: CreateDatabase
-- The name is quoted into the text: identifiers cannot be bound as
-- parameters.
CREATE DATABASE %s;

-- name: RawTextOnSQLASCII
-- On a SQL_ASCII database, read text as the bytes it holds (see
-- rawTextConnector); elsewhere nothing changes.
SELECT set_config('client_encoding', 'SQL_ASCII', false)
WHERE current_setting('server_encoding') = 'SQL_ASCII';
