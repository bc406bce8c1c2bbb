-- Administration of whole databases: the demo's throwaway one.

-- name: CreateDatabase
-- The name is quoted into the text: identifiers cannot be bound as
-- parameters.
CREATE DATABASE %s;
