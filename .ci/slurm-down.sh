#!/usr/bin/env bash
# Stop what .ci/slurm-up.sh started (slurmd, slurmctld, munged, as it listed them in
# /var/lib/lee-slurm/started); a cluster that was up before it ran is left alone.
set -uo pipefail

STATE=/var/lib/lee-slurm
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
[ -f "$STATE/started" ] || exit 0

stop() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  "${SUDO[@]}" kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do "${SUDO[@]}" kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  "${SUDO[@]}" kill -9 "$pid" 2>/dev/null || true
}

grep -qx slurmd "$STATE/started" && stop "$STATE/slurmd.pid"
grep -qx slurmctld "$STATE/started" && stop "$STATE/slurmctld.pid"
grep -qx munged "$STATE/started" && stop /run/munge/munged.pid
"${SUDO[@]}" rm -f "$STATE/started"
echo "slurm stopped"
