#!/usr/bin/env bash
# Private Prosody server on loopback for the esession demo, tests and CI.
#
# Usage:
#   scripts/prosody.sh install                      install prosody (apt) if missing
#   scripts/prosody.sh start DIR                    config + cert in DIR, start, wait, write DIR/env
#   scripts/prosody.sh register DIR USER PASSWORD [HOST]
#                                                   create USER@HOST (default localhost;
#                                                   plain.localhost offers only SASL PLAIN)
#   scripts/prosody.sh stop DIR                     stop the server started in DIR
#
# Environment: ESESSION_C2S_PORT (default 15222), ESESSION_TLS_PORT (default 15223),
# ESESSION_PROSODY_PLUGINS (directory of the project's modules; default ../prosody),
# ESESSION_PROSODY_QUIET=1 (log at level info without every stanza: for benchmarks; the
# tests read the debug log, so they need the default).
set -euo pipefail

die() {
    echo "prosody.sh: $*" >&2
    exit 1
}

# The second virtual host, which offers only SASL PLAIN.
PLAIN_ONLY_HOST=plain.localhost

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Absolute path of DIR (created if needed).
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

cmd_install() {
    if command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1; then
        echo "prosody already installed: $(command -v prosody)"
        return 0
    fi
    "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" prosody lua5.4-event lua5.4-unbound openssl || die "apt-get failed"
    command -v prosody >/dev/null 2>&1 || die "prosody still missing after install"
    echo "prosody installed: $(command -v prosody)"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# PIDs of processes listening on 127.0.0.1:$1 (needs ss from iproute2; empty if unavailable).
listener_pids() {
    command -v ss >/dev/null 2>&1 || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

make_cert() {
    local certs=$1
    mkdir -p "$certs"
    if [[ -s $certs/localhost.crt && -s $certs/localhost.key ]]; then
        return 0
    fi
    # rustls refuses a CA:TRUE certificate as a server certificate.
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj "/CN=localhost" \
        -keyout "$certs/localhost.key" -out "$certs/localhost.crt" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "subjectAltName=DNS:localhost,DNS:$PLAIN_ONLY_HOST" \
        -addext "extendedKeyUsage=serverAuth" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
        >/dev/null 2>&1 || die "openssl could not make the certificate"
    chmod 600 "$certs/localhost.key"
}

cmd_start() {
    [[ $# == 1 ]] || usage
    command -v prosody >/dev/null 2>&1 || die "prosody is not installed: run '$0 install'"
    local dir c2s tls cfg log pidfile certs
    dir=$(abs_dir "$1")
    c2s=${ESESSION_C2S_PORT:-15222}
    tls=${ESESSION_TLS_PORT:-15223}
    cfg=$dir/prosody.cfg.lua
    log=$dir/prosody.log
    pidfile=$dir/prosody.pid
    certs=$dir/certs
    mkdir -p "$dir/data"

    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        die "a server from $dir is already running (pid $(cat "$pidfile")): '$0 stop $dir' first"
    fi
    rm -f "$pidfile"
    for p in "$c2s" "$tls"; do
        if port_open "$p"; then
            die "port 127.0.0.1:$p is already taken (stale server? pids: $(listener_pids "$p" | tr '\n' ' '))"
        fi
    done

    make_cert "$certs"
    # The project's own Prosody modules (XEP-0136 archiving: prosody/mod_archive_manual.lua).
    local plugins=${ESESSION_PROSODY_PLUGINS:-$(dirname "${BASH_SOURCE[0]}")/../prosody}
    [[ -f $plugins/mod_archive_manual.lua ]] || die "no mod_archive_manual.lua in $plugins"
    plugins=$(cd "$plugins" && pwd)
    local log_level=debug stanza_debug='"stanza_debug";'
    if [[ ${ESESSION_PROSODY_QUIET:-0} == 1 ]]; then
        log_level=info stanza_debug=''
    fi

    cat >"$cfg" <<CFG
-- Written by scripts/prosody.sh: a private server on loopback for esession tests.
interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
c2s_direct_tls_ports = { $tls }
s2s_ports = { }
data_path = "$dir/data"
pidfile = "$pidfile"
run_as_root = true
prosody_user = "root"
daemonize = false
authentication = "internal_hashed"
-- Plain TCP is only offered on loopback (interfaces above).
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
allow_registration = false
-- Nagle's algorithm off on every connection: with it, a stanza written right after a
-- small one (an XEP-0198 ack) waits for the client's delayed ACK (40 ms on Linux).
network_settings = { nagle = false }
certificates = "$certs"
plugin_paths = { "$plugins" }
ssl = { certificate = "$certs/localhost.crt", key = "$certs/localhost.key" }
modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "pep"; "offline"; "carbons"; "mam";
    "register"; "ping"; "private"; "smacks"; "posix";
    $stanza_debug
    "archive_manual";
}
log = {
    { levels = { min = "$log_level" }, to = "file", filename = "$log" };
}
VirtualHost "localhost"
-- A host whose only SASL mechanism is PLAIN (the client must refuse it unless allowed).
VirtualHost "$PLAIN_ONLY_HOST"
disable_sasl_mechanisms = {
    "SCRAM-SHA-1"; "SCRAM-SHA-256"; "SCRAM-SHA-1-PLUS"; "SCRAM-SHA-256-PLUS"; "DIGEST-MD5";
}
CFG

    : >"$log"
    prosody --config "$cfg" -F >>"$dir/prosody.stdout" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/prosody.started-pid"

    # Ports open slightly before the pidfile is written: wait for both (bounded, ~10 s).
    local i ready=0
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/prosody.stdout" "$log" >&2 || true
            die "prosody exited during start-up (see $log)"
        fi
        if [[ -s $pidfile ]] && port_open "$c2s" && port_open "$tls"; then
            ready=1
            break
        fi
        sleep 0.05
    done
    if [[ $ready != 1 ]]; then
        kill "$pid" 2>/dev/null || true
        die "prosody did not become ready on 127.0.0.1:$c2s within 10 s (see $log)"
    fi
    # The listener must be the process we started, not a stale server.
    local owners
    owners=$(listener_pids "$c2s")
    if [[ -n $owners ]] && ! grep -qx "$pid" <<<"$owners"; then
        kill "$pid" 2>/dev/null || true
        die "port $c2s is held by pid(s) $(tr '\n' ' ' <<<"$owners"), not by our prosody ($pid)"
    fi
    if [[ $(cat "$pidfile") != "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        die "pidfile $pidfile names $(cat "$pidfile"), not our prosody ($pid)"
    fi

    cat >"$dir/env" <<ENV
ESESSION_SERVER=127.0.0.1:$c2s
ESESSION_TLS_PORT=$tls
SSL_CERT_FILE=$certs/localhost.crt
ESESSION_PROSODY_CONFIG=$cfg
ESESSION_PROSODY_LOG=$log
ESESSION_PLAIN_ONLY_DOMAIN=$PLAIN_ONLY_HOST
ENV
    echo "prosody running: pid $pid, c2s 127.0.0.1:$c2s, direct TLS 127.0.0.1:$tls"
    echo "certificate: $certs/localhost.crt (export SSL_CERT_FILE=$certs/localhost.crt)"
    echo "env file: $dir/env"
}

cmd_register() {
    [[ $# == 3 || $# == 4 ]] || usage
    local dir host=${4:-localhost}
    [[ $host == localhost || $host == "$PLAIN_ONLY_HOST" ]] || die "no host $host on this server"
    dir=$(abs_dir "$1")
    [[ -f $dir/prosody.cfg.lua ]] || die "no config in $dir: run '$0 start $dir' first"
    prosodyctl --config "$dir/prosody.cfg.lua" register "$2" "$host" "$3" ||
        die "could not register $2@$host"
}

cmd_stop() {
    [[ $# == 1 ]] || usage
    local dir pid=""
    dir=$(abs_dir "$1")
    if [[ -s $dir/prosody.pid ]]; then
        pid=$(cat "$dir/prosody.pid")
    elif [[ -s $dir/prosody.started-pid ]]; then
        pid=$(cat "$dir/prosody.started-pid")
    fi
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        echo "no prosody running from $dir"
        rm -f "$dir/prosody.pid" "$dir/prosody.started-pid"
        return 0
    fi
    kill "$pid"
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/prosody.pid" "$dir/prosody.started-pid"
    echo "prosody stopped (pid $pid)"
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
install) cmd_install "$@" ;;
start) cmd_start "$@" ;;
register) cmd_register "$@" ;;
stop) cmd_stop "$@" ;;
*) usage ;;
esac
