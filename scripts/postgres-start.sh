#!/usr/bin/env bash
# Starts Debian's PostgreSQL on loopback and creates the test role and database; prints the URL.
set -euo pipefail
# Only the URL goes to standard output (the Makefile captures it); everything else goes to stderr.
exec 3>&1 1>&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $SUDO pg_createcluster "$version" main >/dev/null 3>&-
fi
pg_lsclusters -h | grep "^$version main" | grep -q online || $SUDO pg_ctlcluster "$version" main start 3>&-  # the server must not hold the URL pipe open
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
for _ in $(seq 1 30); do as_pg "pg_isready -q" && break; sleep 1; done
as_pg "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='parcelguard'\" | grep -q 1 || psql -q -c \"CREATE ROLE parcelguard LOGIN SUPERUSER PASSWORD 'parcelguard'\"" >/dev/null
as_pg "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='parcelguard_test'\" | grep -q 1 || createdb -O parcelguard parcelguard_test" >/dev/null
echo >&3 "postgresql+psycopg://parcelguard:parcelguard@127.0.0.1:5432/parcelguard_test"
