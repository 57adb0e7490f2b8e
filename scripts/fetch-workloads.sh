#!/usr/bin/env bash
# The TPC-DS workload of host/sql/tests/workloads.rs, which is not kept in
# this repository: its 99 queries and schema ship in sqlglot's source
# distribution on PyPI (tests/fixtures/optimizer/tpc-ds/tpc-ds.sql,
# tests/helpers.py). This downloads that sdist (pinned, hash-checked) into
# target/workloads/, extracts those two files, and has
# scripts/tpcds_catalog.py write
#
#   target/workloads/tpcds/catalog.toml   the catalog, policy-loader format
#   target/workloads/tpcds/q01.sql .. q99.sql
#
# Does nothing when they are there already (`make workloads`, run by
# `make test`). Needs python3 with pip.
#
#   scripts/fetch-workloads.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SQLGLOT_VERSION=30.31.0
SQLGLOT_SHA256=448404736cb0ed1335774e34399a3a99d28274778fb718877556fb7d475d8808
DIR=target/workloads
OUT=$DIR/tpcds
SDIST=$DIR/sqlglot-$SQLGLOT_VERSION.tar.gz
SRC=sqlglot-$SQLGLOT_VERSION

if [ -f $OUT/catalog.toml ] && [ -f $OUT/q99.sql ]; then
    exit 0
fi

mkdir -p $DIR
if [ ! -f "$SDIST" ]; then
    "$PYTHON" -m pip download -q --no-deps --no-binary :all: "sqlglot==$SQLGLOT_VERSION" -d $DIR
fi
got=$("$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$SDIST")
if [ "$got" != "$SQLGLOT_SHA256" ]; then
    echo "fetch-workloads: $SDIST has sha256 $got, expected $SQLGLOT_SHA256; remove it and run again" >&2
    exit 1
fi

WORK=$(mktemp -d "$DIR/tmp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$SDIST" -C "$WORK" "$SRC/tests/fixtures/optimizer/tpc-ds/tpc-ds.sql" "$SRC/tests/helpers.py"
summary=$("$PYTHON" scripts/tpcds_catalog.py "$WORK/$SRC/tests/helpers.py" "$WORK/$SRC/tests/fixtures/optimizer/tpc-ds/tpc-ds.sql" "$WORK/tpcds")
# Into place in one step: a half-written workload is never left behind.
rm -rf $OUT
mv "$WORK/tpcds" $OUT
echo "fetch-workloads: $OUT: $summary"
