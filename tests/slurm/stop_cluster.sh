#!/usr/bin/env bash
# Stops the cluster tests/slurm/start_cluster.sh DIR started: the processes named by its pid
# files, and nothing else.
dir=${1:?usage: stop_cluster.sh DIR}
stop() {  # stop PIDFILE
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
}
stop "$dir/slurmd.pid"
stop "$dir/slurmctld.pid"
stop "$dir/munge/munged.pid"
exit 0
