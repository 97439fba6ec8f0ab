#!/bin/sh
# Starts redis in the role the region and the sentinels give this node.
#
# Secondary region: always a replica, never a master. The first pod follows a replica of the
# primary region's group (one of UPSTREAM_HOSTS, never the master: common.sh, watch_upstream),
# the others follow the first pod, so one stream per region crosses regions. None of them can
# be promoted (priority 0).
#
# Every node starts unpromotable (replica-priority 0); in the primary region watch_priority
# (common.sh) raises the priority of a replica once it has caught up with its master.
#
# Primary region: the sentinels are asked first, and the master they know with the highest
# config epoch (the latest failover) wins:
#   - they name another node: start as its replica;
#   - they name this node: start as master with the data on the volume; with an empty volume
#     (a lost or new disk) while they know replicas that hold the data, have them promote one
#     and follow it, or refuse to start: never an empty master that replicas would copy;
#   - no sentinel knows a master (a new group): the first pod starts as master, unless a node
#     already is one, and the others follow the first pod.
. "$CONFIG_DIR/common.sh"

# The volume has held a redis dataset before (redis creates the AOF folder on first start).
initialized() { [ -n "$(ls -A "$DATA_DIR/appendonlydir" 2>/dev/null)" ]; }

# The sentinels still name this node master and it has data, but its previous process
# stopped without handing over (a crash, an OOM kill, a liveness kill: a clean stop hands
# over first) and came back before down-after, so no failover happened. Started as master,
# it reloads its AOF under a new replication id (redis restores the id only from an RDB it
# loads with AOF off) and every replica does a full resync; min-replicas-to-write refuses
# every write until one has finished, a time that grows with the dataset (15 s at 739 MB).
# While enough replicas still hold this node's data (more than min-replicas-to-write: one to
# promote, the others to follow it with a partial resync), have one promoted and follow it
# instead: writes resume after the failover whatever the dataset size, only this node
# resyncs. With fewer, the promoted replica would wait for a full resync as well: start as
# master then.
# If every replica holds the same offset, whichever the sentinels pick has every write a
# replica acknowledged, so they are asked now (SENTINEL FAILOVER). Otherwise (they differ,
# or one does not answer) the sentinels fail over on their own after down-after, and pick the
# most advanced replica by the offsets of their last INFO of each. Sets master to the promoted replica; if none
# is promoted in down-after + failover-timeout + 5 s, starts as master after all. Never exits:
# an exit would put the container in the kubelet's restart back-off.
hand_over_after_crash() {
  held=$(own_replicas)
  holders=$(printf '%s\n' "$held" | grep -vc ' -$' || true)
  needed=$(awk '$1 == "min-replicas-to-write" { print $2 }' "$CONFIG_DIR/redis.conf")
  if [ "$holders" -le "${needed:-0}" ]; then
    [ "$holders" -eq 0 ] || log "only $holders replica(s) still hold this node's data, min-replicas-to-write is ${needed:-0}: a failover would not keep writes going; starting as master"
    return 0
  fi
  crash_wait=$(((DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS) / 1000 + 5))
  log "this node stopped without a handover and $holders replica(s) still hold its data: not starting as master (its new replication id would make every replica resync in full, refusing writes until one has finished)"
  offsets=$(printf '%s\n' "$held" | awk '$2 != "-" { print $2, $3 }' | sort -u | wc -l)
  if [ "$holders" -eq $((REPLICAS - 1)) ] && [ "$offsets" -eq 1 ]; then
    log "every replica holds the same offset ($(printf '%s\n' "$held" | awk '$2 != "-" { print $3; exit }')): asking the sentinels to promote one"
    request_failover || log "no sentinel accepted the failover: waiting for the sentinels to fail over on their own"
  else
    log "the replicas differ or one does not answer ($(printf '%s\n' "$held" | awk '{ printf "%s%s", sep, $0; sep = "; " }')): waiting for the sentinels to fail over on their own (down-after ${DOWN_AFTER_MS}ms)"
  fi
  if promoted=$(wait_other_master "$crash_wait"); then
    master="$promoted"
  else
    log "no replica was promoted in ${crash_wait}s: starting as master with the data on the volume"
  fi
}

master=""
if [ "$ROLE" = secondary ]; then
  if [ "$ORDINAL" = 0 ]; then
    # A replica with its link up if there is one, else a replica; never a master, nor a pod that
    # does not answer (it may come back as the master): then NO_UPSTREAM until the watcher finds one.
    set -- $(best_upstream)
    master=$1
  else
    master="$FIRST"
  fi
  log "secondary region: starting as a replica of $master"
else
  # Following another node is always safe (the sentinels correct a replica's master), so one
  # answer naming another node is enough. Becoming master is not: the own sentinel may have
  # missed a failover while this node was away, so that takes a majority of the sentinels (or
  # a brand-new group) and no failover in progress, or, failing that, the wait running out
  # (a whole-group restart in pod order: the other pods start once this one is ready).
  # Just promoted to the primary (step 2): the first pod holds the old primary's stream (common.sh).
  take_stream
  majority=$((REPLICAS / 2 + 1))
  wait_s=$((FAILOVER_TIMEOUT_MS / 1000 + 5))
  [ "$wait_s" -ge 30 ] || wait_s=30
  deadline=$(($(now) + wait_s))
  while :; do
    answers=$(sentinel_answers)
    up=$(printf '%s\n' "$answers" | grep -vc ' down$' || true)
    known=$(printf '%s\n' "$answers" | best_master)
    host=$(printf '%s\n' "$known" | awk '{ print $2 }')
    busy=$(printf '%s\n' "$known" | awk '{ print $4 }')
    [ -n "$host" ] && [ "$host" != "$SELF" ] && break
    # A failover of this node is under way: wait for its outcome.
    if [ "$busy" != 1 ]; then
      [ "$up" -ge "$majority" ] && break
      if [ "$known" = "0 $SELF 0 0" ] && ! initialized; then break; fi
    fi
    if [ "$(now)" -ge "$deadline" ]; then
      log "no clear answer in ${wait_s}s ($up of $REPLICAS sentinels, failover in progress: ${busy:-0}): deciding with what they say"
      break
    fi
    sleep 0.2
  done
  if [ "$up" -eq 0 ]; then
    # Not even this pod's sentinel answers: the network is not up (e.g. no sidecar yet).
    # Deciding blind is how every pod ends up master: fail and let the kubelet retry.
    log "no sentinel answered in ${wait_s}s: not deciding blind, retrying on restart"
    exit 1
  fi
  if [ -n "$known" ]; then
    set -- $known
    epoch=$1 master=$2 replicas=$3
    log "the sentinels name $master master (config epoch $epoch, $replicas replicas known)"
    if [ "$master" = "$SELF" ]; then
      if initialized; then
        master=""
        [ "$up" -lt "$majority" ] || hand_over_after_crash
      elif [ "$replicas" -eq 0 ]; then
        log "a new group: no replica holds data yet"
        master=""
      else
        log "this node's data volume is empty: asking the sentinels to promote a replica"
        if request_failover && master=$(wait_other_master $((FAILOVER_TIMEOUT_MS / 1000 + 5))); then
          :
        else
          log "no replica could be promoted: refusing to start as an empty master (retrying on restart)"
          exit 1
        fi
      fi
    fi
  elif [ "$ORDINAL" = 0 ]; then
    master=$(master_node)
    if [ -z "$master" ] && ! initialized; then
      for n in $(seq 1 $((REPLICAS - 1))); do
        keys=$(rcli "$(pod "$n")" "$REDIS_PORT" dbsize) || continue
        case "$keys" in
          '' | 0 | *[!0-9]*) ;;
          *)
            log "no sentinel knows a master, this volume is empty and $STATEFULSET-$n holds $keys keys: refusing to start as an empty master"
            exit 1
            ;;
        esac
      done
    fi
  else
    master="$FIRST"
  fi
fi

conf="$RUN_DIR/redis.conf"
{
  cat "$CONFIG_DIR/redis.conf"
  echo "bind $BIND"
  echo "dir $DATA_DIR"
  echo "requirepass $(quoted "$REDIS_PASSWORD")"
  echo "masterauth $(quoted "$REDIS_PASSWORD")"
  echo "replica-announce-ip $SELF"
  echo "replica-priority 0"
  if [ -n "$master" ]; then echo "replicaof $master $REDIS_PORT"; fi
} > "$conf"
if [ -n "$master" ]; then
  [ "$ROLE" = secondary ] || log "starting as a replica of $master"
else
  log "starting as master"
fi
# The first pod of a secondary keeps its upstream a replica (common.sh); the loop ends with redis.
if [ "$ROLE" = secondary ] && [ "$ORDINAL" = 0 ]; then watch_upstream "$$" & fi
# In the primary region every pod watches for a failover that aborted and would wait out
# Sentinel's 2 x failover-timeout before its next attempt (common.sh); the loop ends with redis.
if [ "$ROLE" = primary ]; then
  watch_failover "$$" &
  # A primary region's replica is promotable once it has caught up (common.sh); the loop ends with redis.
  watch_priority "$$" &
fi
exec redis-server "$conf"
