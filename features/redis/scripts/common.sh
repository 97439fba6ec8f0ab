#!/bin/sh
# Shared by start-redis.sh and start-sentinel.sh, and the probes and preStop hook of a pod:
#   common.sh ready            readiness of the redis container
#   common.sh sentinel-ready   readiness of the sentinel container
#   common.sh handover         preStop of the redis container: a master hands over first
#
# Nodes are addressed by hostname, never by IP: <pod>.<headless service>.<namespace>.svc.<domain>
# follows a pod to its new IP after every restart. The headless Service is named after the
# region, so a hostname is unique across clusters and never names a pod of another one.
#
# Environment (set by the StatefulSet, see RedisSentinel): ROLE (primary|secondary),
# UPSTREAM_HOSTS and UPSTREAM_CHECK_SECONDS (secondary only), POD_NAME, STATEFULSET, HEADLESS, NAMESPACE, CLUSTER_DOMAIN,
# REPLICAS, QUORUM, MASTER_SET, DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, PARALLEL_SYNCS,
# HANDOVER_SECONDS, CONFIG_DIR, DATA_DIR, RUN_DIR, REDIS_PASSWORD; optionally LISTEN_ADDR,
# the one address redis and the sentinel listen on (default: every interface, reached
# locally on 127.0.0.1).
set -eu

REDIS_PORT=6379
SENTINEL_PORT=26379
export REDISCLI_AUTH="$REDIS_PASSWORD"
ORDINAL="${POD_NAME##*-}"
DOMAIN="$HEADLESS.$NAMESPACE.svc.$CLUSTER_DOMAIN"
SELF="$POD_NAME.$DOMAIN"
FIRST="$STATEFULSET-0.$DOMAIN"
LOCAL="${LISTEN_ADDR:-127.0.0.1}"
BIND="${LISTEN_ADDR:-* -::*}"

log() { echo "meridian-redis $POD_NAME: $*" >&2; }

# The hostname of pod N of the StatefulSet.
pod() { echo "$STATEFULSET-$1.$DOMAIN"; }

# rcli_within SECONDS HOST PORT COMMAND...: one command, bounded by SECONDS. Prints the reply;
# fails when the host does not answer (an error reply is printed, not a failure).
rcli_within() {
  rcli_limit=$1
  rcli_host=$2
  rcli_port=$3
  shift 3
  timeout "$rcli_limit" redis-cli --no-auth-warning -h "$rcli_host" -p "$rcli_port" "$@" 2>/dev/null
}

# rcli HOST PORT COMMAND...: rcli_within 3 s.
rcli() { rcli_within 3 "$@"; }

# rcli_quick HOST PORT COMMAND...: rcli_within 1 s, for the questions asked while writes are
# paused (a node that does not answer must not stretch the pause by 3 s a round).
rcli_quick() { rcli_within 1 "$@"; }

# rcli_stdin HOST PORT: the commands read from stdin, one per line, over one connection (one
# process where the time counts: a handover's pause).
rcli_stdin() { rcli_within 3 "$1" "$2"; }

# A value for a double-quoted redis.conf argument.
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

now() { date +%s; }

# Centiseconds since the machine started (/proc/uptime): to report how long something took.
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime 2>/dev/null || echo 0; }

# One line per sentinel of the group: "<ordinal> down" (no answer or an error such as a wrong
# password), "<ordinal> none" (knows no master) or "<ordinal> <config-epoch> <master host>
# <replicas it knows> <failing over: 1|0> <master objectively down: 1|0>". The host is the one
# the sentinel gives clients: during a failover, the promoted replica as soon as it is promoted.
sentinel_answers() {
  sa_n=0
  while [ "$sa_n" -lt "$REPLICAS" ]; do
    sa_host=$(pod "$sa_n")
    if sa_reply=$(rcli "$sa_host" "$SENTINEL_PORT" sentinel master "$MASTER_SET"); then
      sa_addr=$(rcli "$sa_host" "$SENTINEL_PORT" sentinel get-master-addr-by-name "$MASTER_SET" | head -n 1) || sa_addr=""
      printf '%s\n' "$sa_reply" | awk -v n="$sa_n" -v addr="$sa_addr" '
        NR == 1 && /^ERR No such master/ { none = 1; exit }
        NR == 1 && $0 != "name" { exit }
        NR % 2 == 1 { key = $0; next }
        { v[key] = $0 }
        END {
          if (none) print n, "none"
          else if (addr == "" || v["ip"] == "") print n, "down"
          else print n, v["config-epoch"] + 0, addr, v["num-slaves"] + 0, (v["flags"] ~ /failover_in_progress/) ? 1 : 0, (v["flags"] ~ /o_down/) ? 1 : 0
        }'
    else
      echo "$sa_n down"
    fi
    sa_n=$((sa_n + 1))
  done
}

# Reads sentinel_answers; prints "<config-epoch> <host> <replicas> <failing over>" of the master
# known with the highest config epoch (the latest failover), nothing when no sentinel knows
# one. Of equal epochs, the answer knowing the most replicas wins: a sentinel that lost its
# state knows none. "failing over" is 1 when any sentinel is in the middle of a failover.
best_master() {
  awk 'NF == 6 { busy = busy || $5 }
    NF == 6 && (best == "" || $2 + 0 > e || ($2 + 0 == e && $4 + 0 > r)) { e = $2 + 0; r = $4 + 0; best = $2 " " $3 " " $4 }
    END { if (best != "") print best, busy + 0 }'
}

# The hostname of a pod of the group whose redis reports the master role, if any.
master_node() {
  mn_n=0
  while [ "$mn_n" -lt "$REPLICAS" ]; do
    if [ "$(rcli "$(pod "$mn_n")" "$REDIS_PORT" role | head -n 1)" = master ]; then
      pod "$mn_n"
      return 0
    fi
    mn_n=$((mn_n + 1))
  done
}

# Step 2 of a promotion (and `--primary-lost`): this region has just become the primary, and
# its first pod, still running the secondary's spec until the rollout reaches it, holds the
# old primary's stream (everything the fenced master accepted; `promote` checked it). The
# rollout goes from the highest ordinal down, so without this the pods that roll first would
# follow a replica, their sentinels would see the master they monitor report the replica role,
# and pod 0 would be deleted last without a handover (its preStop is the secondary's): a
# failover by down detection, racing pod 0's restart (issue 15, the step-2 defect). So the
# first pod of the new primary that starts, before its sentinel monitors anything, promotes
# the stream holder where it is: pod 0, whose upstream is outside the group,
# when no node of the group is a master. It then leaves the old stream (so no hello message
# of the old primary's sentinels reaches this group's sentinels through it), its replicas
# continue with a partial resync, and when the rollout reaches it, its preStop hands over
# like any master's. The old primary is fenced (or gone): this master is the only one that
# takes writes.
take_stream() {
  [ "$ROLE" = primary ] || return 0
  # The holder is always pod 0 (a secondary's other pods follow it): one question on every
  # start of a primary's pod, more only during a promotion.
  ts_up=$(rcli "$FIRST" "$REDIS_PORT" info replication | tr -d '\r' | awk -F: '$1 == "master_host" { print $2 }') || return 0
  case "$ts_up" in "" | *".$DOMAIN") return 0 ;; esac
  [ -z "$(master_node)" ] || return 0
  log "this region is the primary now and no node of the group is a master: $FIRST holds the stream of $ts_up (the old primary): promoting it where it is"
  rcli "$FIRST" "$REDIS_PORT" replicaof no one >/dev/null || log "$FIRST did not take the promotion"
}

# Asks the sentinels, other pods' first, to fail over; succeeds when one accepted or one is
# already failing over.
request_failover() {
  for rf_n in $(seq 0 $((REPLICAS - 1)) | grep -vx "$ORDINAL") "$ORDINAL"; do
    rf_reply=$(rcli "$(pod "$rf_n")" "$SENTINEL_PORT" sentinel failover "$MASTER_SET" | head -n 1) || continue
    case "$rf_reply" in
      OK | INPROG*) log "sentinel of $STATEFULSET-$rf_n fails over ($rf_reply)"; return 0 ;;
      *) [ "${1:-}" = quiet ] || log "sentinel of $STATEFULSET-$rf_n refused the failover: ${rf_reply:-no answer}" ;;
    esac
  done
  return 1
}

# request_failover, again every second until one accepts or the time DEADLINE (seconds since
# the epoch) has passed. A sentinel learns replicas from the master's INFO, every 10 s: one
# started moments ago (its pod just rolled) may know none yet, or only a pod that has since
# been recreated, and refuses with NOGOODSLAVE until the next INFO lists the replicas. Used by
# the handover of a new primary's pod 0 (take_stream), whose own sentinel monitors nothing and
# the others all started during the rollout; a primary's master asks its own sentinel last,
# which has watched the replicas all along (and a fenced master, whose replicas may not be
# promoted, does not wait for nothing).
request_failover_until() {
  request_failover || {
    while [ "$(now)" -lt "$1" ]; do
      sleep 1
      request_failover quiet && return 0
    done
    return 1
  }
}

# Waits up to N seconds until the sentinels name a master other than this node; prints it.
wait_other_master() {
  wo_deadline=$(($(now) + $1))
  while [ "$(now)" -lt "$wo_deadline" ]; do
    wo_host=$(sentinel_answers | best_master | awk '{ print $2 }')
    if [ -n "$wo_host" ] && [ "$wo_host" != "$SELF" ]; then
      echo "$wo_host"
      return 0
    fi
    sleep 1
  done
  return 1
}

# A secondary region's first pod replicates from one pod of the primary region, reached at its
# own Service (UPSTREAM_HOSTS, one host per pod): a replica of the primary's master, never the
# master itself. A replica attached to the master counts for its WAIT and
# min-replicas-to-write, and this one can never be promoted (replica-priority 0, and the
# primary's sentinels cannot reach it): a write only it acknowledged would be lost in the next
# failover. Attached to a replica, it counts for nothing there (a master counts its own
# replicas only, and its sentinels list a replica's replicas nowhere), and it gets the same
# stream: a replica passes on the master's, with the same replication id.

# upstream_rank HOST: "<rank> <offset>" of a pod of the primary region as an upstream:
# 3 a replica whose link to its master is up, 2 a replica without it, 1 no answer, 0 a master
# (never to be used).
upstream_rank() {
  if ! ur_reply=$(rcli "$1" "$REDIS_PORT" role); then
    echo "1 0"
    return 0
  fi
  printf '%s\n' "$ur_reply" | tr -d '\r' | awk '
    NR == 1 { role = $0 } NR == 4 { state = $0 } NR == 5 { offset = $0 + 0 }
    END {
      if (role == "master") print 0, 0
      else if (role == "slave" && state == "connected") print 3, offset
      else if (role == "slave") print 2, 0
      else print 1, 0
    }'
}

# Where the first pod points while no pod of the primary region is a replica: an address
# reserved for documentation (RFC 5737, TEST-NET-1), which nothing answers; an address, not a
# name, so that redis resolves nothing in its main thread. A pod that does not answer may come
# back as the master, so it is never chosen; redis keeps trying this one, harmlessly, until the
# watcher finds a replica.
NO_UPSTREAM=192.0.2.1

# How long after its start a primary region's replica whose link has never come up is not
# ready (ready()).
LINK_WAIT_SECONDS=30

# Prints "<host> <rank> <offset>" of the best upstream among the replicas: the highest rank,
# then the highest offset (the replica that has the most of the stream), then the lowest
# ordinal; "$NO_UPSTREAM 1 0" when no pod answers as a replica.
best_upstream() {
  for bu_host in $UPSTREAM_HOSTS; do
    echo "$bu_host $(upstream_rank "$bu_host")"
  done | awk -v none="$NO_UPSTREAM" '$2 >= 2 && (best == "" || $2 > r || ($2 == r && $3 > o)) { best = $1; r = $2; o = $3 } END { if (best != "") print best, r, o; else print none, 1, 0 }'
}

# The local node's replication field FIELD (master_host, slave_repl_offset...).
local_replication() {
  rcli "$LOCAL" "$REDIS_PORT" info replication | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'
}

# The watcher of a secondary region's first pod, in the background of its redis container
# until redis (PID $1) exits: every UPSTREAM_CHECK_SECONDS it asks its upstream's ROLE and
# moves to a better one (REPLICAOF) when the upstream was promoted (a failover in the primary
# region), stopped answering, or lost its own master while another replica has one; off a
# master with no replica to go to, it points at NO_UPSTREAM. Off a
# promoted upstream it first waits (up to 1 s) for the next one to have the offset this node
# has, so that the move is a partial resync rather than a full one.
watch_upstream() {
  wu_redis=$1
  while sleep "$UPSTREAM_CHECK_SECONDS"; do
    kill -0 "$wu_redis" 2>/dev/null || return 0
    # Promoted where it is by the new primary's first pod (take_stream), or handed over to a
    # node of its own group since: the region is the primary now, and the old primary's stream
    # (with its sentinels' hellos) must never come back through this pod.
    case "$(local_replication role)" in
      master) log "this node is a master now: the region was promoted; the upstream watcher stops"; return 0 ;;
      '') continue ;;
    esac
    wu_current=$(local_replication master_host) || continue
    case "$wu_current" in
      '') continue ;;
      *".$DOMAIN") log "this node follows $wu_current of its own group now: the region was promoted; the upstream watcher stops"; return 0 ;;
    esac
    if [ "$wu_current" = "$NO_UPSTREAM" ]; then wu_rank=1; else
      set -- $(upstream_rank "$wu_current")
      wu_rank=$1
    fi
    [ "$wu_rank" -ge 3 ] && continue
    set -- $(best_upstream)
    [ "$1" != "$wu_current" ] && [ "$2" -gt "$wu_rank" ] || continue
    wu_next=$1
    if [ "$wu_rank" = 0 ] && [ "$2" = 3 ]; then
      wu_tries=10
      while [ "$wu_tries" -gt 0 ]; do
        wu_own=$(local_replication slave_repl_offset)
        set -- $(upstream_rank "$wu_next")
        [ "${2:-0}" -ge "${wu_own:-0}" ] && break
        wu_tries=$((wu_tries - 1))
        sleep 0.1
      done
    fi
    kill -0 "$wu_redis" 2>/dev/null || return 0
    case "$wu_rank" in
      0) wu_why="was promoted: it is the master now" ;;
      1) wu_why="does not answer (or none was a replica)" ;;
      *) wu_why="has lost its master" ;;
    esac
    # Asked again right before the switch: the checks above take up to 1.5 s, and the new
    # primary's first pod may have promoted this node meanwhile (take_stream): a REPLICAOF
    # then throws away every write it took as the master since (found by promotion.test.ts:
    # an acknowledged write lost, the node re-pointed 0.22 s after its promotion). What is
    # left is the moment between this question and the switch.
    wu_still=$(rcli "$LOCAL" "$REDIS_PORT" info replication | tr -d '\r' | awk -F: -v up="$wu_current" '
      { v[$1] = $2 } END { if (v["role"] == "slave" && v["master_host"] == up) print "yes" }')
    [ "$wu_still" = yes ] || continue
    log "upstream $wu_current $wu_why: replicating from $wu_next"
    rcli "$LOCAL" "$REDIS_PORT" replicaof "$wu_next" "$REDIS_PORT" >/dev/null || true
  done
}

# After an aborted failover Sentinel waits 2 × failover-timeout (120 s by default) before it
# tries again: sentinelStartFailoverIfNeeded starts no attempt while less than that has passed
# since the last one started, and sentinelVoteLeader sets the same start time on a sentinel
# that votes for another. A failover aborts when no sentinel wins the election (a split vote:
# each survivor of a lost zone votes for itself, "-failover-abort-not-elected" after
# min(10 s, failover-timeout)), when the leader is lost before it promotes, or when the
# promoted replica does not take the promotion ("-failover-abort-slave-timeout"). The
# primary region had no master, and took no write, for two minutes. SENTINEL FAILOVER
# (SRI_FORCE_FAILOVER) skips both the election and that wait, and selects the replica with
# the same rule as Sentinel's own attempt (sentinelSelectSlave: priority, offset, run id), so
# the pods' watchers use it, under conditions that make it the attempt Sentinel itself would
# start at the end of its wait. See docs/redis.md, "An aborted failover".

# How long the sentinels must agree the master is down with no failover in progress before a
# watcher forces one. A failover in progress shows on the sentinel running it
# (failover_in_progress, set as it starts, before the election) until the others learn the
# new master from its hellos (every 2 s); 5 s is more than twice that.
STALL_SECONDS=5
# The next watcher in ordinal order acts this much later, only if the failover is still stalled.
STALL_STAGGER_SECONDS=3

# Reads sentinel_answers. Prints "busy" when a sentinel that answers has a failover in
# progress. Prints "<master host> <rank>" when the failover is stalled: a majority of the
# group's sentinels answer (a minority side of a partition never acts), every one of them
# names the same master at the same config epoch and reports it objectively down, and none
# fails over; <rank> is this pod's place among the ordinals of the sentinels that answer
# (0: the lowest), "-" when its own sentinel does not answer. Prints nothing otherwise.
failover_stall() {
  awk -v self="$ORDINAL" -v majority=$((REPLICAS / 2 + 1)) '
    $2 == "none" { mixed = 1 }
    NF != 6 { next }
    {
      up++
      if ($5 + 0) busy = 1
      if (!($6 + 0)) alive = 1
      if (key == "") key = $2 " " $3
      else if (key != $2 " " $3) mixed = 1
      if ($1 + 0 < self + 0) below++
      if ($1 + 0 == self + 0) mine = 1
    }
    END {
      if (busy) print "busy"
      else if (up >= majority && !mixed && !alive) { split(key, k, " "); print k[2], (mine ? below + 0 : "-") }
    }'
}

# The failover watcher of a primary region's pod, in the background of its redis container
# until redis (PID $1) exits. Every second it asks its own sentinel about the master; when that
# one reports it objectively down, it asks every sentinel (failover_stall). When the failover
# has stalled for STALL_SECONDS (+ STALL_STAGGER_SECONDS per lower ordinal whose sentinel
# answers, so that one pod acts, the lowest), the named master does not answer here as a
# master and no other pod reports the master role, it asks its own sentinel to fail over
# (SENTINEL FAILOVER). It lets Sentinel retry on its own when that retry is due within 3 s or
# was due up to 5 s ago (2 × failover-timeout after the last attempt started): both at once
# would be two failovers.
watch_failover() {
  wf_redis=$1
  wf_since=0
  wf_busy=0
  wf_busy_key=""
  wf_was_busy=0
  wf_said=""
  wf_cooldown=$((2 * FAILOVER_TIMEOUT_MS / 1000))
  while sleep 1; do
    kill -0 "$wf_redis" 2>/dev/null || return 0
    # "<flags> <config-epoch> <master> <seconds since it is o_down>" as this pod's sentinel knows them.
    wf_own=$(rcli "$LOCAL" "$SENTINEL_PORT" sentinel master "$MASTER_SET" | tr -d '\r' | awk '
      NR % 2 == 1 { key = $0; next } { v[key] = $0 }
      END { if (v["flags"] != "") print v["flags"], v["config-epoch"] + 0, v["ip"], int(v["o-down-time"] / 1000) }') || wf_own=""
    set -- $wf_own
    wf_key="${2:-} ${3:-}"
    wf_odown=${4:-0}
    case "${1:-}" in
      *failover_in_progress*) wf_state=busy ;;
      *o_down*) wf_state=$(sentinel_answers | failover_stall) || wf_state="" ;;
      *) wf_state="" ;;
    esac
    wf_now=$(now)
    if [ "$wf_state" = busy ]; then
      # A failover started (Sentinel's own, or one this or another watcher asked for): its
      # start time is within the poll before this one.
      if [ "$wf_was_busy" = 0 ]; then
        wf_busy=$wf_now
        wf_busy_key=$wf_key
      fi
      wf_was_busy=1
      wf_since=0
      continue
    fi
    wf_was_busy=0
    if [ -z "$wf_state" ]; then
      wf_since=0
      continue
    fi
    set -- $wf_state
    wf_host=$1
    wf_rank=$2
    [ "$wf_since" -gt 0 ] || wf_since=$wf_now
    [ "$wf_rank" != - ] || continue
    wf_stalled=$((wf_now - wf_since))
    [ "$wf_stalled" -ge $((STALL_SECONDS + wf_rank * STALL_STAGGER_SECONDS)) ] || continue
    # The last attempt started when this watcher first saw it in progress, or, if it saw none
    # (an attempt can abort within a poll: no good replica), when the master went o_down here:
    # a sentinel tries at once when it sees the master o_down.
    wf_start=$((wf_now - wf_odown))
    if [ "$wf_busy_key" = "$wf_key" ] && [ "$wf_busy" -gt "$wf_start" ]; then wf_start=$wf_busy; fi
    wf_retry=$((wf_start - 1 + wf_cooldown))
    if [ $((wf_now + 3)) -ge "$wf_retry" ] && [ "$wf_now" -le $((wf_retry + 5)) ]; then
      continue
    fi
    # A promotion the sentinels have not told about yet (a leader out of sight), or a master
    # the sentinels cannot reach but this pod can: not a stalled failover.
    [ "$(rcli "$wf_host" "$REDIS_PORT" role | head -n 1)" != master ] || continue
    wf_other=$(master_node) || wf_other=""
    [ -z "$wf_other" ] || continue
    kill -0 "$wf_redis" 2>/dev/null || return 0
    wf_reply=$(rcli "$LOCAL" "$SENTINEL_PORT" sentinel failover "$MASTER_SET" | head -n 1) || wf_reply="no answer"
    case "$wf_reply" in
      OK)
        log "the sentinels have agreed for ${wf_stalled}s that $wf_host is down with no failover in progress (Sentinel's next attempt waits 2 x failover-timeout): this pod's sentinel fails over"
        wf_said=""
        ;;
      *)
        [ "$wf_said" = "$wf_reply" ] || log "the failover of $wf_host is stalled, and this pod's sentinel refused to fail over: ${wf_reply:-no answer}"
        wf_said=$wf_reply
        ;;
    esac
    wf_since=0
  done
}

# The replica-priority of a primary region's replica that has caught up with its master
# (redis's default). Every node starts with 0 (start-redis.sh) and watch_priority raises it.
PROMOTABLE_PRIORITY=100

# The promotability of a primary region's node, in the background of its redis container until
# redis (PID $1) exits. A replica that has just synced in full holds its master's snapshot; the
# writes since the snapshot reach it only once the master has its first acknowledgement. Sentinel
# picks the replica to promote by the offsets of its last INFO of each, up to 10 s old: it
# promoted such a replica (its INFO fresh, at the snapshot's offset) over one that had the
# writes since, acknowledged by WAIT (its INFO older, its offset lower), and they were lost
# (failover.test.ts, kill -9 of the master; issue 15). So redis starts unpromotable
# (replica-priority 0), and the priority is raised once the node is a replica that has every
# write its master had when its link was up: its offset has reached the master's of then. It is
# never lowered while the node is a replica (when a master dies, every replica's link goes down:
# they must stay promotable), and is 0 while the node is a master, so that a master the
# sentinels turn into a replica is unpromotable again until it has caught up.
watch_priority() {
  wq_redis=$1
  wq_goal=""
  # waiting: not caught up yet; lowered: a master, its priority set to 0; raised: promotable.
  wq_state=waiting
  while sleep 1; do
    kill -0 "$wq_redis" 2>/dev/null || return 0
    wq_info=$(rcli "$LOCAL" "$REDIS_PORT" info replication) || continue
    # "<role> <link> <syncing> <master> <replid> <offset>", "-" for what is missing.
    set -- $(printf '%s\n' "$wq_info" | tr -d '\r' | awk -F: '
      { v[$1] = $2 }
      END {
        n = split("role master_link_status master_sync_in_progress master_host master_replid slave_repl_offset", k, " ")
        for (i = 1; i <= n; i++) printf "%s%s", (v[k[i]] == "" ? "-" : v[k[i]]), (i < n ? " " : "\n")
      }')
    [ $# -eq 6 ] || continue
    # A master: its priority set to 0 once per time it is found master, and unpromotable again
    # until it has caught up as a replica.
    if [ "$1" = master ]; then
      wq_goal=""
      [ "$wq_state" = lowered ] || [ "$(rcli "$LOCAL" "$REDIS_PORT" config set replica-priority 0)" != OK ] || wq_state=lowered
      [ "$wq_state" = lowered ] || wq_state=waiting
      continue
    fi
    [ "$wq_state" != lowered ] || wq_state=waiting
    # Raised already (a priority an operator set afterwards, 0 included, stays), or not streaming
    # (its link down, a sync under way): nothing to do now.
    if [ "$wq_state" = raised ] || [ "$1" != slave ] || [ "$2" != up ] || [ "$3" != 0 ]; then
      [ "$2" = up ] || wq_goal=""
      continue
    fi
    # The first round with the link up: where the master's stream is now, to be reached.
    case "$wq_goal" in
      "$4 $5 "*) ;;
      *)
        wq_goal=$(rcli "$4" "$REDIS_PORT" info replication | tr -d '\r' | awk -F: -v host="$4" -v id="$5" '
          { v[$1] = $2 } END { if (v["master_replid"] == id && v["master_repl_offset"] != "") print host, id, v["master_repl_offset"] + 0 }') || wq_goal=""
        continue
        ;;
    esac
    case "$6" in '' | *[!0-9]*) continue ;; esac
    [ "$6" -ge "${wq_goal##* }" ] || continue
    if [ "$(rcli "$LOCAL" "$REDIS_PORT" config set replica-priority "$PROMOTABLE_PRIORITY")" = OK ]; then
      log "caught up with $4 (offset $6, the master's was ${wq_goal##* } when the link was up): promotable now (replica-priority $PROMOTABLE_PRIORITY)"
      wq_state=raised
    fi
    wq_goal=""
  done
}

# One line per other pod of the group: "<ordinal> <master_replid> <offset>" when its redis is a
# replica of this node that lost its link to this node's previous process (so it holds that
# process's data up to <offset>), can be promoted (priority > 0) and lost the link recently
# enough for the sentinels to promote it (10 × down-after, Sentinel's own limit); otherwise
# "<ordinal> -" (down, another role, or a process started since that never had the link:
# master_link_down_since_seconds is -1 then).
own_replicas() {
  or_max=$((DOWN_AFTER_MS * 10 / 1000))
  for or_n in $(seq 0 $((REPLICAS - 1)) | grep -vx "$ORDINAL"); do
    or_info=$(rcli "$(pod "$or_n")" "$REDIS_PORT" info replication) || or_info=""
    printf '%s\n' "$or_info" | tr -d '\r' | awk -F: -v n="$or_n" -v self="$SELF" -v max="$or_max" '
      { v[$1] = $2 }
      END {
        down = v["master_link_down_since_seconds"]
        if (v["role"] == "slave" && v["master_host"] == self && v["master_link_status"] == "down" &&
            down != "" && down + 0 >= 0 && down + 0 <= max && v["slave_priority"] + 0 > 0 &&
            v["slave_repl_offset"] + 0 > 0 && v["master_sync_in_progress"] == "0")
          print n, v["master_replid"], v["slave_repl_offset"]
        else
          print n, "-"
      }'
  done
}

ready() {
  info=$(rcli "$LOCAL" "$REDIS_PORT" info) || return 1
  info=$(printf '%s\n' "$info" | tr -d '\r')
  printf '%s\n' "$info" | grep -q '^role:' || return 1
  # A replica in the middle of a full sync (or loading its data) has not got the data yet.
  printf '%s\n' "$info" | grep -qE '^(loading|master_sync_in_progress):1' && return 1
  # A secondary region's replica stays ready: it serves its volume's data, stale, while the
  # upstream is away (the link alert says so).
  [ "$ROLE" = secondary ] && return 0
  printf '%s\n' "$info" | grep -qx 'role:master' && return 0
  # Nor is a primary region's replica ready before it has caught up with its master
  # (watch_priority raises its replica-priority from 0 then): its link not up yet (connecting,
  # or the master does not answer) or the writes since its sync's snapshot still on their way.
  # Ready, the rollout would move on (to the master, whose handover needs a replica the
  # sentinels may promote) and the PDB would let the master's node be drained. For
  # LINK_WAIT_SECONDS after the start only: a master that never answers (a pod not created
  # yet, under a StatefulSet still OrderedReady; a pod 0 that take_stream missed, whose own link
  # is down, so it refuses to sync) must not keep it unready for good; the handover still never
  # promotes it while it lacks writes.
  printf '%s\n' "$info" | grep -qx 'slave_priority:0' || return 0
  [ "$(printf '%s\n' "$info" | awk -F: '$1 == "uptime_in_seconds" { print $2 + 0 }')" -ge "$LINK_WAIT_SECONDS" ]
}

sentinel_ready() {
  [ "$(rcli "$LOCAL" "$SENTINEL_PORT" ping)" = PONG ]
}

# The handover's request: a new primary's pod 0 asks until 5 s before END (request_failover_until).
handover_failover() {
  if [ "$ROLE" = secondary ]; then request_failover_until $(($1 - 5)); else request_failover; fi
}

# sentinel_replicas N: every replica the sentinel of pod N lists, one per line: "<host>
# <alive: 1|0> <priority above 0: 1|0>". Alive: its flags are exactly "slave" (not down, not
# disconnected); with a priority above 0, the sentinel could promote it now. Both as of the
# sentinel's last PING and INFO of the replica. Bounded by 1 s (the pause's time counts).
sentinel_replicas() {
  rcli_quick "$(pod "$1")" "$SENTINEL_PORT" sentinel replicas "$MASTER_SET" | tr -d '\r' | awk '
    NR % 2 == 1 { key = $0; next }
    key == "name" { n++ }
    key == "ip" { ip[n] = $0 }
    key == "flags" { f[n] = $0 }
    key == "slave-priority" { p[n] = $0 }
    END { for (i = 1; i <= n; i++) print ip[i], (f[i] == "slave") ? 1 : 0, (p[i] + 0 > 0) ? 1 : 0 }'
}

# Whether the sentinel of another pod lists a replica it could promote.
sentinel_knows_replica() {
  for skr_n in $(seq 0 $((REPLICAS - 1)) | grep -vx "$ORDINAL"); do
    [ -n "$(sentinel_replicas "$skr_n" | awk '$2 == 1 && $3 == 1')" ] && return 0
  done
  return 1
}

# handover_ask DIR HOST...: every sentinel of the group for the replicas it lists
# (DIR/sentinel.N) and every HOST for its replication INFO (DIR/info.HOST), all at once: inside
# the pause a round costs one question's time, not one per question. The replies are kept as
# they come (empty when there was no answer); DIR/asked lists the HOSTs.
handover_ask() {
  ha_dir=$1
  shift
  rm -f "$ha_dir"/*
  printf '%s\n' "$@" >"$ha_dir/asked"
  for ha_n in $(seq 0 $((REPLICAS - 1))); do
    rcli_quick "$(pod "$ha_n")" "$SENTINEL_PORT" sentinel replicas "$MASTER_SET" >"$ha_dir/sentinel.$ha_n" &
  done
  for ha_host in "$@"; do
    rcli_quick "$ha_host" "$REDIS_PORT" info replication >"$ha_dir/info.$ha_host" &
  done
  wait
}

# handover_verdict DIR REPLID OFFSET OWN: from the replies in DIR (handover_ask), one line:
# "<verdict> <host>...". The hosts: every replica a failover could promote by the time a
# sentinel picks one: all those a sentinel lists, in any state, and OWN (this master's
# replicas, from its INFO). Not only those a sentinel could promote when asked: their view
# changes within the pause (a rolled replica's new priority, read by their next INFO of it; a
# down flag cleared by a PING reply; a replica learned from this master's INFO), and a failover
# promoted a replica nobody had checked (issue 15, the CI failure of promotion.test.ts: two
# acknowledged writes lost). The verdict: "ask" when a host was not asked (ask again); "yes"
# when every host that could be promoted follows the stream REPLID up to OFFSET at least, as
# the replica itself says (a master's INFO has the replicas' last acknowledgements, once a
# second); else the first that does not, "none" when no replica may ever be promoted (priority
# 0 for itself and every sentinel: a fenced group), or "no-replica" when the others did not
# answer. A host that answers must have every write unless its priority is 0 for itself and
# for every sentinel; one that does not answer, only when a sentinel lists it alive (flags
# exactly "slave": its last PING reply was recent enough for it to be picked).
handover_verdict() {
  hv_files="$1/asked"
  for hv_f in "$1"/sentinel.* "$1"/info.*; do
    if [ -e "$hv_f" ]; then hv_files="$hv_files $hv_f"; fi
  done
  # Unquoted on purpose: the paths hold no spaces (RUN_DIR, hostnames).
  awk -v self="$SELF" -v id="$2" -v offset="$3" -v own="$4" '
    FNR == 1 { file = FILENAME; sub(/.*\//, "", file); cur = "" }
    { sub(/\r$/, "") }
    file == "asked" { if ($0 != "") asked[$0] = 1; next }
    file ~ /^sentinel\./ {
      if (FNR % 2 == 1) { key = $0; next }
      if (key == "ip") { cur = $0; if (!(cur in listed)) { listed[cur] = 1; order[++n] = cur } }
      else if (cur != "" && key == "flags" && $0 == "slave") alive[cur] = 1
      else if (cur != "" && key == "slave-priority" && $0 + 0 > 0) pri[cur] = 1
      next
    }
    file ~ /^info\./ { h = substr(file, 6); answered[h] = 1; i = index($0, ":"); if (i > 0) v[h, substr($0, 1, i - 1)] = substr($0, i + 1); next }
    END {
      m = split(own, o, " ")
      for (i = 1; i <= m; i++) if (!(o[i] in listed)) { listed[o[i]] = 1; order[++n] = o[i] }
      verdict = ""; any = 0; more = 0; away = 0; hosts = ""
      for (i = 1; i <= n; i++) {
        h = order[i]
        if (h == self || h == "") continue
        hosts = hosts " " h
        if (!(h in asked)) { more = 1; continue }
        if (!(h in answered)) { if ((h in alive) && verdict == "") verdict = h; away = 1; continue }
        if (v[h, "slave_priority"] != "" && v[h, "slave_priority"] + 0 == 0 && !(h in pri)) continue
        if (v[h, "role"] == "slave" && v[h, "master_replid"] == id && v[h, "slave_repl_offset"] + 0 >= offset + 0) any = 1
        else if (verdict == "") verdict = h
      }
      if (more) verdict = "ask"
      else if (verdict == "") verdict = any ? "yes" : (away ? "no-replica" : "none")
      print verdict hosts
    }' $hv_files
}

# handover_promotable DIR: the replicas a sentinel could promote now (listed alive, priority
# above 0), by the replies in DIR (handover_ask), on one line.
handover_promotable() {
  for hp_f in "$1"/sentinel.*; do
    awk 'FNR % 2 == 1 { key = $0; next }
      { sub(/\r$/, "") }
      key == "ip" { ip = $0 } key == "flags" { f = $0 }
      key == "slave-priority" && f == "slave" && $0 + 0 > 0 { print ip }' "$hp_f"
  done | sort -u | tr '\n' ' '
}

# Whether every replica in CANDIDATES (hostnames) is online in this master's INFO with its last
# acknowledgement at most 1 s old: the moment to pause writes, so that the pause covers the
# last bytes and the failover only.
candidates_online() {
  rcli "$LOCAL" "$REDIS_PORT" info replication | tr -d '\r' | awk -F '[:,=]' -v want="$1" '
    $1 ~ /^slave[0-9]+$/ {
      s["ip"] = ""; s["state"] = ""; s["lag"] = ""
      for (i = 2; i < NF; i += 2) s[$i] = $(i + 1)
      if (s["state"] == "online" && s["lag"] != "" && s["lag"] + 0 <= 1) ok[s["ip"]] = 1
    }
    END {
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) if (!(w[i] in ok)) exit 1
    }'
}

# wait_promoted CANDIDATES REPLID SECONDS: waits up to SECONDS until a replica in CANDIDATES
# reports the master role with REPLID as its previous stream (the sentinels promoted it: it has
# every write of this node, which is paused), or the sentinels name a master other than this
# node; prints it. The candidates are asked every 0.1 s, so the pause ends as soon as the
# promotion is done, not when the sentinels next read the new master's INFO (once a second) and
# name it: a pause longer than down-after holds the sentinels' PINGs to this node (queued behind
# their hello PUBLISH, which a write pause blocks), and they would see it down.
wait_promoted() {
  wp_deadline=$(($(now) + $3))
  wp_round=0
  while :; do
    for wp_host in $1; do
      wp_info=$(rcli_quick "$wp_host" "$REDIS_PORT" info replication) || continue
      if printf '%s\n' "$wp_info" | awk -F: -v id="$2" '{ sub(/\r$/, ""); v[$1] = $2 } END { exit !(v["role"] == "master" && v["master_replid2"] == id) }'; then
        echo "$wp_host"
        return 0
      fi
    done
    wp_round=$((wp_round + 1))
    if [ $((wp_round % 10)) -eq 0 ]; then
      wp_named=$(sentinel_answers | best_master | awk '{ print $2 }')
      if [ -n "$wp_named" ] && [ "$wp_named" != "$SELF" ]; then
        echo "$wp_named"
        return 0
      fi
    fi
    [ "$(now)" -lt "$wp_deadline" ] || return 1
    sleep 0.1
  done
}

# preStop: a master pauses writes, waits until every replica the sentinels could promote has
# all of them, has the sentinels promote one and follows it, so the writes it acknowledged
# survive the shutdown. Paused writes fail over too: they get READONLY after the switch and are
# retried on the new master.
# A secondary's pod is never a master, except a first pod the new primary's first started pod
# promoted (take_stream): its preStop is still the secondary's, and hands over too.
handover() {
  [ "$(rcli "$LOCAL" "$REDIS_PORT" role | head -n 1)" = master ] || return 0
  log "preStop: this node is the master: handing over"
  # The sentinels learn what they may promote from their INFO of each replica, every 10 s, over
  # a link that a pause of writes would block (the sentinels' PUBLISH of their hellos waits, and
  # their PINGs behind it: after down-after they would see this master down). A new primary's
  # pod 0 (take_stream): its sentinels all started during the rollout and learn replicas from
  # its INFO. A primary's master in a rollout: the replica rolled just before it became
  # promotable when it caught up (watch_priority), and the sentinels may not have read it yet.
  # So wait, writes going on, until one knows a replica it could promote; in the primary
  # region only while a replica is attached (there is one to wait for).
  if [ "$ROLE" = secondary ] || [ "$(rcli "$LOCAL" "$REDIS_PORT" info replication | tr -d '\r' | awk -F: '$1 == "connected_slaves" { print $2 + 0 }')" != 0 ]; then
    ho_wait=$(($(now) + HANDOVER_SECONDS / 2))
    until sentinel_knows_replica; do
      [ "$(now)" -lt "$ho_wait" ] || break
      sleep 0.5
    done
  fi
  # Its replicas, to move to the new master with it (a replica that attached after the
  # sentinels' last INFO is one they do not know, and would stay chained to this node).
  ho_replicas=$(rcli "$LOCAL" "$REDIS_PORT" info replication | tr -d '\r' | awk -F '[:,=]' '$1 ~ /^slave[0-9]+$/ { print $3 }')
  # Sentinel picks the replica to promote by the offsets of its last INFO, up to 10 s old: a
  # replica that has since fallen behind (its process restarted, its link lost) may be picked
  # over one that has every write. So every replica a sentinel could pick must have them.
  # What the sentinels list now (in any state): the replicas the first round inside the pause
  # asks at once.
  ho_dir=$(mktemp -d "$RUN_DIR/handover.XXXXXX")
  handover_ask "$ho_dir"
  ho_verdict=$(handover_verdict "$ho_dir" - 0 "$ho_replicas")
  ho_hosts=${ho_verdict#"${ho_verdict%% *}"}
  # Writes going on, up to 3 s for those the sentinels could promote now and this node's own
  # to be online and acknowledging: the pause that follows then lasts the last bytes and the
  # failover only.
  ho_want="$(handover_promotable "$ho_dir") $(echo $ho_replicas)"
  ho_online=$(($(now) + 3))
  until candidates_online "$ho_want"; do
    [ "$(now)" -lt "$ho_online" ] || break
    sleep 0.2
  done
  # Inside the pause every step counts (a pause longer than down-after holds the sentinels'
  # PINGs, see wait_promoted): as few processes as it takes, each question bounded by 1 s.
  # Every step ends by ho_end; the pause itself lasts 5 s longer, a safety net should this
  # hook die (the pod is going away then).
  ho_end=$(($(now) + HANDOVER_SECONDS))
  ho_deadline=$(($(now) + 5))
  [ "$ho_deadline" -lt "$ho_end" ] || ho_deadline=$((ho_end - 1))
  ho_paused=$(uptime_cs)
  # The pause, and the stream as it froze it (its id, and the offset every replica must
  # reach) with the replicas attached then, over one connection; "-" when the pause was not
  # taken.
  ho_info=$(printf 'client pause %s write\ninfo replication\n' "$(((HANDOVER_SECONDS + 5) * 1000))" | rcli_stdin "$LOCAL" "$REDIS_PORT" | tr -d '\r') || ho_info=""
  ho_stream=$(printf '%s\n' "$ho_info" | awk -F: '
    NR == 1 { paused = ($0 == "OK") } $1 == "master_replid" { id = $2 } $1 == "master_repl_offset" { offset = $2 }
    END { if (paused && id != "") print id, offset + 0; else print "-" }')
  ho_replicas="$ho_replicas $(printf '%s\n' "$ho_info" | awk -F '[:,=]' '$1 ~ /^slave[0-9]+$/ { print $3 }')"
  ho_replid=${ho_stream%% *}
  ho_offset=${ho_stream##* }
  ho_synced=""
  ho_rounds=0
  while [ "$ho_stream" != - ]; do
    ho_rounds=$((ho_rounds + 1))
    # Asked again every round: what a failover could promote by the time a sentinel picks.
    handover_ask "$ho_dir" $(printf '%s\n' $ho_hosts $ho_replicas | sort -u)
    ho_verdict=$(handover_verdict "$ho_dir" "$ho_replid" "$ho_offset" "$ho_replicas")
    ho_synced=${ho_verdict%% *}
    ho_hosts=${ho_verdict#"$ho_synced"}
    # Nothing to wait for: none may be promoted (a fenced group's master).
    [ "$ho_synced" = yes ] || [ "$ho_synced" = none ] && break
    [ "$(now)" -lt "$ho_deadline" ] || break
    # A replica the sentinels came to list: asked at once.
    [ "$ho_synced" = ask ] || sleep 0.1
  done
  rm -rf "$ho_dir"
  ho_checked=$(uptime_cs)
  ho_requested=""
  ho_master=""
  ho_asked=""
  ho_unpaused=""
  if [ "$ho_stream" = - ]; then
    log "preStop: writes could not be paused: shutting down without a handover"
  elif [ "$ho_synced" != yes ]; then
    case "$ho_synced" in
      none) log "preStop: no replica may be promoted (priority 0 for itself and every sentinel): shutting down without a handover" ;;
      "" | no-replica | ask) log "preStop: no replica has every write: shutting down without a handover" ;;
      *) log "preStop: $ho_synced, a replica the sentinels could promote, does not have every write: shutting down without a handover" ;;
    esac
  elif ! handover_failover "$ho_end"; then
    log "preStop: no sentinel could fail over (no replica that may be promoted): shutting down without a handover"
  else
    ho_asked=1
    ho_requested=$(uptime_cs)
    ho_master=$(wait_promoted "$ho_hosts" "$ho_replid" $((ho_end - $(now)))) || ho_master=""
  fi
  if [ -n "$ho_master" ]; then
    # Follow the new master, then let the paused writes go (they get READONLY): one connection.
    printf 'replicaof %s %s\nclient unpause\n' "$ho_master" "$REDIS_PORT" | rcli_stdin "$LOCAL" "$REDIS_PORT" >/dev/null || true
    ho_unpaused=$(uptime_cs)
    for ho_r in $ho_replicas; do
      [ "$ho_r" = "$ho_master" ] || rcli "$ho_r" "$REDIS_PORT" replicaof "$ho_master" "$REDIS_PORT" >/dev/null || true
    done
    log "preStop: $ho_master is the master now; this node and its replicas follow it"
  elif [ -n "$ho_asked" ]; then
    # A failover was asked for and may still promote a replica: a write this node took after
    # an unpause would be lost then. Writes stay paused until the shutdown that follows.
    log "preStop: the sentinels did not promote a replica in ${HANDOVER_SECONDS}s: writes stay paused until the shutdown"
  else
    rcli "$LOCAL" "$REDIS_PORT" client unpause >/dev/null || true
    ho_unpaused=$(uptime_cs)
  fi
  # How long, and where the time went: the replicas' check (rounds), the failover request, the promotion.
  [ -z "$ho_unpaused" ] || log "preStop: writes were paused for $(awk -v a="$ho_paused" -v c="$ho_checked" -v r="$ho_requested" -v b="$ho_unpaused" -v n="$ho_rounds" '
    BEGIN {
      printf "%.2f s (replicas checked in %.2f s, %d round(s)", (b - a) / 100, (c - a) / 100, n
      if (r != "") printf "; failover accepted after %.2f s more; promotion seen %.2f s later", (r - c) / 100, (b - r) / 100
      printf ")"
    }')"
}

case "${1:-}" in
  ready) ready ;;
  sentinel-ready) sentinel_ready ;;
  handover) handover ;;
  *) ;;
esac
