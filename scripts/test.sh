#!/usr/bin/env bash
# The test command of this repository (README, CI): installs Prosody and ejabberd if
# needed, starts a private Prosody and a private two-node ejabberd cluster on loopback,
# exports ESESSION_TEST_ENV and ESESSION_EJABBERD_ENV for the real-server tests, runs
# `cargo test --workspace "$@"`, and stops both servers.
#
# Usage: scripts/test.sh [extra cargo test arguments]
# Environment: ESESSION_C2S_PORT / ESESSION_TLS_PORT (default: first free pair
# from 15222 / 15223 upwards); ESESSION_EJABBERD_PORT (default: first free triple
# from 16222 upwards).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/prosody.sh install
scripts/ejabberd.sh install
server_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-prosody.XXXXXX")
cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-ejabberd.XXXXXX")
cleanup() {
    "$root/scripts/prosody.sh" stop "$server_dir" || true
    "$root/scripts/ejabberd.sh" stop "$cluster_dir" || true
    rm -rf "$server_dir" "$cluster_dir"
}
trap cleanup EXIT
# Default ports first; if another server holds them (someone else's tests on
# this machine), try the next pairs.
if [[ -n ${ESESSION_C2S_PORT:-} ]]; then
    scripts/prosody.sh start "$server_dir"
else
    started=0
    for base in 15222 15232 15242 15252 15262 15272 15282 15292; do
        if ESESSION_C2S_PORT=$base ESESSION_TLS_PORT=$((base + 1)) \
            scripts/prosody.sh start "$server_dir"; then
            started=1
            break
        fi
    done
    [[ $started == 1 ]] || { echo "test.sh: no free port pair for Prosody" >&2; exit 1; }
fi
export ESESSION_TEST_ENV=$server_dir/env

if [[ -n ${ESESSION_EJABBERD_PORT:-} ]]; then
    scripts/ejabberd.sh start "$cluster_dir"
else
    started=0
    for base in 16222 16232 16242 16252 16262 16272 16282 16292; do
        if ESESSION_EJABBERD_PORT=$base scripts/ejabberd.sh start "$cluster_dir"; then
            started=1
            break
        fi
        scripts/ejabberd.sh stop "$cluster_dir" || true
    done
    [[ $started == 1 ]] || { echo "test.sh: no free ports for ejabberd" >&2; exit 1; }
fi
export ESESSION_EJABBERD_ENV=$cluster_dir/env

cargo test --workspace "$@"
