-- Run once by the postgres image, when the pgdata volume is first initialised
-- (files in /docker-entrypoint-initdb.d). btree_gist ships with the image's contrib modules; it lets
-- exclusion constraints mix equality (same space) with range overlap (booking times).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Also in template1, so that databases created later (Django's test database, for one) have it too.
\connect template1
CREATE EXTENSION IF NOT EXISTS btree_gist;
