#!/usr/bin/env bash
# Install what allot needs on Debian 12, as root (or through sudo).
# Idempotent: packages already present are not fetched again.
#   --with-bench   also install wrk, nginx and strace (bench/)
set -euo pipefail

PACKAGES=(
  build-essential pkg-config clang   # compiler, sanitizers, libFuzzer
  libuv1-dev                         # event loop
  libcurl4-openssl-dev               # upstream HTTP
  libssl-dev                         # SHA-256 of client keys (libcrypto)
  libsqlite3-dev sqlite3             # the ledger (sqlite3 CLI: tests, docs)
  libpq-dev                          # the ledger in PostgreSQL (store: postgresql://...)
  postgresql                         # tests: initdb, postgres and psql for postgres.test.mjs
  libyaml-dev                        # allot.yaml
  libcjson-dev                       # JSON (cJSON)
  node-llhttp                        # HTTP/1.1 parsing: llhttp (Node.js's parser) as C sources
  libpcre2-dev                       # regular expressions: answer checks, JSON Schema "pattern"
  libcsv-dev                         # CSV (outcome data for allot eval)
  json-schema-test-suite             # the official JSON Schema test suite (unit tests)
  curl ca-certificates jq            # demo and tests (jq: the fake upstream smoke test)
  valgrind                           # memcheck over the integration tests
  chromium                           # a real browser for the CORS test (cors.test.mjs)
)
if [ "${1:-}" = "--with-bench" ]; then
  PACKAGES+=(wrk nginx-light strace)
fi
# The integration tests drive allot with the official npm SDKs.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
