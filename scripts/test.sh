#!/usr/bin/env bash
# The test command of this repository (README, CI): installs Prosody and ejabberd if
# needed, starts a private Prosody and a private two-node ejabberd cluster on loopback,
# exports ESESSION_TEST_ENV and ESESSION_EJABBERD_ENV for the real-server tests, runs
# `cargo test --workspace` against Prosody, then the real-server suites of the adapter and
# the CLI again against the cluster (ESESSION_TEST_SERVER=ejabberd: a test's first account
# on node 1, its second on node 2), and stops both servers.
#
# Usage: scripts/test.sh [extra cargo test arguments]
# With arguments, runs `cargo test ARGS` once (the virtual workspace: every crate unless
# ARGS name one with -p), against the server named by
# ESESSION_TEST_SERVER (prosody, the default, or ejabberd), which alone is started, e.g.
#   ESESSION_TEST_SERVER=ejabberd scripts/test.sh -p esession-cli --test offline
# Environment: ESESSION_C2S_PORT / ESESSION_TLS_PORT (default: first free pair
# from 15222 / 15223 upwards); ESESSION_EJABBERD_PORT (default: first free quadruple
# from 16222 upwards).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ $# == 0 ]]; then
    want_prosody=1 want_ejabberd=1
else
    case ${ESESSION_TEST_SERVER:-prosody} in
    prosody) want_prosody=1 want_ejabberd=0 ;;
    ejabberd) want_prosody=0 want_ejabberd=1 ;;
    *) echo "test.sh: ESESSION_TEST_SERVER must be prosody or ejabberd" >&2; exit 2 ;;
    esac
fi

server_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-prosody.XXXXXX")
cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-ejabberd.XXXXXX")
cleanup() {
    if [[ $want_prosody == 1 ]]; then
        "$root/scripts/prosody.sh" stop "$server_dir" || true
    fi
    if [[ $want_ejabberd == 1 ]]; then
        "$root/scripts/ejabberd.sh" stop "$cluster_dir" || true
    fi
    rm -rf "$server_dir" "$cluster_dir"
}
trap cleanup EXIT

if [[ $want_prosody == 1 ]]; then
    scripts/prosody.sh install
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
fi

if [[ $want_ejabberd == 1 ]]; then
    scripts/ejabberd.sh install
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
fi

if [[ $# != 0 ]]; then
    cargo test "$@"
    exit
fi

ESESSION_TEST_SERVER=prosody cargo test --workspace

# The real-server suites again, against the cluster. Skipped there: the tests that need a
# fixture only the Prosody of these tests has (a virtual host offering SASL PLAIN alone),
# and the archive tests but one: they need the project's XEP-0136 module for Prosody, and
# ejabberd has no XEP-0136 (the one checks that the client says so).
on_cluster() {
    echo "test.sh: against the ejabberd cluster: cargo test $*"
    ESESSION_TEST_SERVER=ejabberd cargo test "$@"
}
prosody_only=(
    --skip plain_only_server_is_refused_unless_allowed
    --skip plain_only_server_needs_allow_plain_auth
)
on_cluster -p esession-xmpp --test real_server --test pubkeys --test pubsub \
    --test full_xep0116 -- "${prosody_only[@]}"
on_cluster -p esession-cli --test real_server --test offline --test pubkeys \
    --test full_xep0116 -- "${prosody_only[@]}"
on_cluster -p esession-cli --test archive -- archive_commands_name_a_missing_xep0136
