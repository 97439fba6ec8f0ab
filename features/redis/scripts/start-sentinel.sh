#!/bin/sh
# Starts the sentinel of this pod. Its state lives on the data volume (sentinel.conf, which
# the sentinel rewrites on every change): its id, the epochs, the master, and the replicas
# and sentinels it knows survive restarts. Every setting is written afresh on each start, so
# a change of the spec or of the password applies on the next restart.
#
# Primary region: the sentinel monitors the group's master: the one the other sentinels know,
# else the one it knew before a restart, else a node that is master, else the first pod (a
# new group). Secondary region: it monitors nothing and forgets the group's state, so that it
# can never fail over the primary region's master; after a promotion it starts monitoring.
. "$CONFIG_DIR/common.sh"

conf="$DATA_DIR/sentinel.conf"
state="$RUN_DIR/sentinel.state"
master=""
: > "$state"
# The running sentinels' view wins: a failover may have happened while this one was down,
# and a sentinel that restarts on its old master and epochs can keep naming that master to
# clients for a long time. With their answer it starts afresh on the current master (its id
# and epoch kept) and learns the rest from their hello messages. Only when no sentinel
# answers (the whole group restarting) is its own saved state the best there is.
if [ "$ROLE" = primary ]; then
  # Just promoted to the primary (step 2): the stream holder becomes the master before this
  # sentinel monitors it (common.sh), so the old primary's hellos never reach this sentinel.
  take_stream
  master=$(sentinel_answers | best_master | awk '{ print $2 }')
fi
if [ -s "$conf" ]; then
  grep -E "^sentinel (myid|current-epoch) " "$conf" >> "$state" || true
  if [ "$ROLE" = primary ] && [ -z "$master" ]; then
    grep -E "^sentinel (config-epoch|leader-epoch|known-replica|known-sentinel) $MASTER_SET " "$conf" >> "$state" || true
    master=$(awk -v s="$MASTER_SET" '$1 == "sentinel" && $2 == "monitor" && $3 == s { print $4 }' "$conf")
  fi
fi
if [ "$ROLE" = primary ] && [ -z "$master" ]; then
  master=$(master_node)
  [ -n "$master" ] || master="$FIRST"
fi

password=$(quoted "$REDIS_PASSWORD")
{
  echo "port $SENTINEL_PORT"
  echo "bind $BIND"
  echo "dir $DATA_DIR"
  # Before the monitor line: it names the master by hostname.
  echo "sentinel resolve-hostnames yes"
  echo "sentinel announce-hostnames yes"
  echo "sentinel announce-ip $SELF"
  echo "requirepass $password"
  echo "sentinel sentinel-pass $password"
  if [ "$ROLE" = primary ]; then
    echo "sentinel monitor $MASTER_SET $master $REDIS_PORT $QUORUM"
    echo "sentinel auth-pass $MASTER_SET $password"
    echo "sentinel down-after-milliseconds $MASTER_SET $DOWN_AFTER_MS"
    echo "sentinel failover-timeout $MASTER_SET $FAILOVER_TIMEOUT_MS"
    echo "sentinel parallel-syncs $MASTER_SET $PARALLEL_SYNCS"
  fi
  cat "$state"
} > "$conf.new"
mv "$conf.new" "$conf"
if [ "$ROLE" = primary ]; then
  log "sentinel monitors $master (quorum $QUORUM)"
else
  log "secondary region: the sentinel monitors nothing until the region is promoted"
fi
exec redis-sentinel "$conf"
