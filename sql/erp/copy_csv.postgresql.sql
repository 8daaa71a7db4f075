-- Fast path of the extract on PostgreSQL with psycopg: one of the extract_*.sql queries (its
-- bound parameters merged in by psycopg) streamed as CSV. The query placeholder below is filled
-- in with psycopg.sql; NULL is an unquoted empty field, an empty string a quoted one.
COPY (
{query}
) TO STDOUT WITH (FORMAT csv)
