#!/usr/bin/env bash
# A private two-node ejabberd cluster on loopback: the second real server of the tests
# (Alice on node 1, Bob on node 2), beside scripts/prosody.sh.
#
# Usage:
#   scripts/ejabberd.sh install                  install ejabberd (apt) if missing
#   scripts/ejabberd.sh start DIR                config + cert in DIR, start both nodes, join
#                                                them in one cluster, write DIR/env
#   scripts/ejabberd.sh register DIR USER PASSWORD
#                                                create USER@localhost (on the cluster)
#   scripts/ejabberd.sh unregister DIR USER      delete USER@localhost (its sessions end)
#   scripts/ejabberd.sh stop DIR                 stop both nodes started in DIR
#
# Environment: ESESSION_EJABBERD_PORT (default 16222: node 1 c2s; node 2 uses +1, the
# private epmd +2, node 1's direct TLS (XEP-0368) +3).
set -euo pipefail

die() {
    echo "ejabberd.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_install() {
    if command -v ejabberdctl >/dev/null 2>&1; then
        echo "ejabberd already installed: $(command -v ejabberdctl)"
        return 0
    fi
    "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" ejabberd openssl || die "apt-get failed"
    command -v ejabberdctl >/dev/null 2>&1 || die "ejabberdctl still missing after install"
    echo "ejabberd installed: $(command -v ejabberdctl)"
}

# ejabberdctl for node N (1 or 2) of the cluster in DIR. As root it runs the node as the
# `ejabberd` user (Debian's package), which owns DIR/nodeN.
ctl() {
    local dir=$1 n=$2
    shift 2
    # The private epmd: nodes of the system service or of other test runs are not seen.
    ERL_EPMD_PORT=$(cat "$dir/epmd-port") ejabberdctl \
        --config-dir "$dir/node$n" --ctl-config "$dir/node$n/ejabberdctl.cfg" \
        --config "$dir/node$n/ejabberd.yml" --logs "$dir/node$n/log" \
        --spool "$dir/node$n/spool" --node "ejabberd$n@localhost" "$@"
}

node_config() {
    local dir=$1 n=$2 c2s=$3 tls=$4 cookie=$5
    local d=$dir/node$n
    mkdir -p "$d/log" "$d/spool"
    cp /etc/ejabberd/inetrc "$d/inetrc"
    cat >"$d/ejabberdctl.cfg" <<CTL
# Written by scripts/ejabberd.sh.
ERLANG_NODE=ejabberd$n@localhost
ERL_OPTIONS="-setcookie $cookie -env ERL_CRASH_DUMP_BYTES 0"
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=$d/ejabberd.pid
CONTRIB_MODULES_CONF_DIR=$d/modules.d
CTL
    mkdir -p "$d/modules.d"
    # Node 1 also listens for direct TLS (XEP-0368).
    local tls_listener=""
    if [[ -n $tls ]]; then
        tls_listener="
  -
    port: $tls
    ip: \"127.0.0.1\"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    tls: true"
    fi
    cat >"$d/ejabberd.yml" <<YML
# Written by scripts/ejabberd.sh: node $n of a private cluster on loopback.
hosts:
  - localhost
loglevel: debug
# Never rotated (the default rotates at 10 MB, and with no rotated file kept the tests'
# record of the traffic would lose its start).
log_rotate_size: infinity
log_rotate_count: 0
# Wait rather than drop log lines under load (the tests read the log).
log_burst_limit_count: 100000
certfiles:
  - "$dir/certs/localhost.pem"
listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: true
${tls_listener}
auth_method: internal
auth_password_format: scram
# A lookup that failed before the join would otherwise be cached for an hour.
auth_use_cache: false
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  pubsub_createnode:
    allow: local
  register:
    allow: all
# The tests create their accounts in-band (XEP-0077): one per test and party, at once.
registration_timeout: infinity
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 5000
modules:
  mod_caps: {}
  mod_disco: {}
  mod_last: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
    force_node_config:
      "eu.siacs.conversations.axolotl.*":
        access_model: open
  mod_register:
    access: register
    ip_access: all
    password_strength: 0
  mod_roster:
    versioning: true
  mod_stream_mgmt: {}
  mod_version: {}
YML
}

cmd_start() {
    [[ $# == 1 ]] || usage
    command -v ejabberdctl >/dev/null 2>&1 || die "ejabberd is not installed: run '$0 install'"
    local dir base
    dir=$(abs_dir "$1")
    base=${ESESSION_EJABBERD_PORT:-16222}
    local c2s1=$base c2s2=$((base + 1)) epmd=$((base + 2)) tls1=$((base + 3))
    for p in "$c2s1" "$c2s2" "$epmd" "$tls1"; do
        port_open "$p" && die "port 127.0.0.1:$p is already taken"
    done
    echo "$epmd" >"$dir/epmd-port"
    mkdir -p "$dir/certs"
    if [[ ! -s $dir/certs/localhost.pem ]]; then
        # rustls refuses a CA:TRUE certificate as a server certificate.
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
            -keyout "$dir/certs/localhost.key" -out "$dir/certs/localhost.crt" \
            -addext "basicConstraints=critical,CA:FALSE" \
            -addext "subjectAltName=DNS:localhost" \
            -addext "extendedKeyUsage=serverAuth" \
            -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
            >/dev/null 2>&1 || die "openssl could not make the certificate"
        cat "$dir/certs/localhost.crt" "$dir/certs/localhost.key" >"$dir/certs/localhost.pem"
        chmod 600 "$dir/certs/localhost.key" "$dir/certs/localhost.pem"
    fi
    local cookie
    cookie=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    node_config "$dir" 1 "$c2s1" "$tls1" "$cookie"
    node_config "$dir" 2 "$c2s2" "" "$cookie"
    if [[ $(id -u) == 0 ]] && id ejabberd >/dev/null 2>&1; then
        chown -R ejabberd:ejabberd "$dir/node1" "$dir/node2" "$dir/certs"
        chmod 711 "$dir"
    fi

    local n
    for n in 1 2; do
        ctl "$dir" "$n" start || die "node $n did not start (see $dir/node$n/log)"
    done
    for n in 1 2; do
        # `started` waits up to 60 s for the node to answer.
        ctl "$dir" "$n" started || die "node $n did not become ready (see $dir/node$n/log)"
    done
    ctl "$dir" 2 join_cluster ejabberd1@localhost >/dev/null ||
        die "node 2 could not join node 1's cluster"
    local i
    for ((i = 0; i < 200; i++)); do
        if port_open "$c2s1" && port_open "$c2s2" && port_open "$tls1" &&
            ctl "$dir" 1 list_cluster 2>/dev/null | grep -q ejabberd2@localhost; then
            break
        fi
        sleep 0.05
    done
    ctl "$dir" 1 list_cluster | grep -q ejabberd2@localhost || die "the cluster did not form"

    cat >"$dir/env" <<ENV
ESESSION_SERVER=127.0.0.1:$c2s1
ESESSION_SERVER_2=127.0.0.1:$c2s2
ESESSION_TLS_PORT=$tls1
ESESSION_SERVER_KIND=ejabberd
SSL_CERT_FILE=$dir/certs/localhost.crt
ESESSION_EJABBERD_LOGS=$dir/node1/log/ejabberd.log:$dir/node2/log/ejabberd.log
ENV
    echo "ejabberd cluster running: node 1 c2s 127.0.0.1:$c2s1 (direct TLS $tls1), node 2 c2s 127.0.0.1:$c2s2"
    echo "env file: $dir/env"
}

cmd_register() {
    [[ $# == 3 ]] || usage
    local dir
    dir=$(abs_dir "$1")
    [[ -f $dir/node1/ejabberd.yml ]] || die "no cluster in $dir: run '$0 start $dir' first"
    ctl "$dir" 1 register "$2" localhost "$3" >/dev/null || die "could not register $2@localhost"
}

cmd_unregister() {
    [[ $# == 2 ]] || usage
    local dir
    dir=$(abs_dir "$1")
    [[ -f $dir/node1/ejabberd.yml ]] || die "no cluster in $dir: run '$0 start $dir' first"
    ctl "$dir" 1 unregister "$2" localhost >/dev/null || die "could not unregister $2@localhost"
}

cmd_stop() {
    [[ $# == 1 ]] || usage
    local dir n
    dir=$(abs_dir "$1")
    [[ -f $dir/epmd-port ]] || { echo "no cluster started in $dir"; return 0; }
    for n in 2 1; do
        if [[ -f $dir/node$n/ejabberd.yml ]]; then
            ctl "$dir" "$n" stop >/dev/null 2>&1 || true
            ctl "$dir" "$n" stopped >/dev/null 2>&1 || true
        fi
    done
    # (`stopped` also stops the private epmd once no node uses it.)
    echo "ejabberd cluster stopped"
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
install) cmd_install "$@" ;;
start) cmd_start "$@" ;;
register) cmd_register "$@" ;;
unregister) cmd_unregister "$@" ;;
stop) cmd_stop "$@" ;;
*) usage ;;
esac
