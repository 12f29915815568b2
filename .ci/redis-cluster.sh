#!/usr/bin/env bash
# A local Redis Cluster: 3 primaries and 3 replicas on 127.0.0.1, for CI and for tests that start
# their own (tests/api/cluster.rs).
#
#   .ci/redis-cluster.sh start DIR BASEPORT   nodes on BASEPORT..BASEPORT+5 (cluster bus: +10000);
#                                             prints the REDIS_URL (redis+cluster://…) on stdout
#   .ci/redis-cluster.sh stop DIR             stops the nodes it started in DIR (by their pid files)
#
# Each node has its own directory (nodes.conf, log, pid) under DIR, keeps nothing on disk
# (--save "" --appendonly no) and declares a peer failed after 2 s (cluster-node-timeout), so a
# killed primary's replica takes over within a few seconds. Other settings, and why:
# - cluster-require-full-coverage no: while one shard fails over, the other shards keep serving
#   (campaigns live in one slot each, so only that shard's campaigns wait);
# - cluster-replica-validity-factor 0: a replica cut off from its primary may still be promoted
#   (it may then have lost the last writes, which is what the failover tests want to see: the
#   database stays the arbiter);
# - replicas authenticate to their primary as the user `repl`, so a test can cut one replica's
#   replication off (ACL SETUSER repl off + CLIENT KILL USER repl on its primary) and keep
#   serving clients.
set -euo pipefail

usage() { echo "usage: $0 start DIR BASEPORT | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
REPL_PASSWORD=vouchsafe-repl

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

node_info() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null | tr -d '\r'; }
cluster_ok() { node_info "$1" cluster info | grep -qx 'cluster_state:ok'; }
replica_synced() { # a node that is a primary, or a replica whose link is up
  local info
  info=$(node_info "$1" info replication)
  grep -qx 'role:master' <<<"$info" || grep -qx 'master_link_status:up' <<<"$info"
}
answers() { [ "$(node_info "$1" ping)" = PONG ]; }

start() {
  local base=$1 port nodes=() url=""
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server and redis-cli are needed (apt-get install redis-server redis-tools)" >&2
    exit 1
  }
  mkdir -p "$dir"
  for i in 0 1 2 3 4 5; do
    port=$((base + i))
    mkdir -p "$dir/$port"
    rm -f "$dir/$port/nodes.conf"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
      --dir "$dir/$port" --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
      --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
      --cluster-node-timeout 2000 --cluster-require-full-coverage no \
      --cluster-replica-validity-factor 0 \
      --masteruser repl --masterauth "$REPL_PASSWORD"
    nodes+=("127.0.0.1:$port")
    url="${url:+$url,}127.0.0.1:$port"
  done
  for i in 0 1 2 3 4 5; do
    port=$((base + i))
    wait_for 10 answers "$port" || { echo "redis node $port did not start" >&2; tail -n 20 "$dir/$port/redis.log" >&2; exit 1; }
    redis-cli -h 127.0.0.1 -p "$port" acl setuser repl on ">$REPL_PASSWORD" '~*' '&*' '+@all' >/dev/null
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    { cat "$dir/create.log" >&2; exit 1; }
  for i in 0 1 2 3 4 5; do
    port=$((base + i))
    wait_for 30 cluster_ok "$port" || { echo "cluster_state is not ok on $port" >&2; exit 1; }
    wait_for 30 replica_synced "$port" || { echo "replica $port did not sync" >&2; exit 1; }
  done
  echo "redis+cluster://$url"
}

stop() {
  local pid pidfile
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
}

case "$cmd" in
  start) [ $# -eq 3 ] || usage; start "$3" ;;
  stop) stop ;;
  *) usage ;;
esac
