#!/usr/bin/env bash
# Runs once, when the postgres service starts on an empty data volume (docker-entrypoint-initdb.d).
# The Airflow metadata database ($POSTGRES_DB, owner $POSTGRES_USER) is created by the image
# itself; this adds Ikou's target database and its own role, which owns it: the load stage
# creates the schemas ikou, ikou_rehearsal and ikou_staging in it, and Airflow's role has no
# access to the migrated personal data.
set -euo pipefail

: "${IKOU_TARGET_DB_NAME:=ikou_target}"
: "${IKOU_TARGET_DB_USER:=ikou}"
: "${IKOU_TARGET_DB_PASSWORD:?IKOU_TARGET_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$IKOU_TARGET_DB_NAME" -v owner="$IKOU_TARGET_DB_USER" -v pw="$IKOU_TARGET_DB_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"owner" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL

echo "created database $IKOU_TARGET_DB_NAME owned by $IKOU_TARGET_DB_USER"
