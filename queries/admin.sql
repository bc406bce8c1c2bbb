-- Administration of whole databases: the demo's throwaway one.

-- name: CreateDatabase
-- %s is the quoted name: identifiers cannot be bound as parameters.
CREATE DATABASE %s;
