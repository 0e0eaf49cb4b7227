#!/usr/bin/env bash
# Start a one-node Slurm cluster on this host (slurmctld + slurmd, munge for auth) for
# test/sweep-slurm.test.ts: root, no systemd, no cgroups (proctrack/linuxproc,
# task/none, no cgroup.conf), so it starts in a container or a bare CI box. Installs
# slurm-wlm and munge with apt when they are missing. Idempotent: a cluster that
# already answers is left alone. `.ci/slurm-down.sh` stops what this started (listed in
# /var/lib/lee-slurm/started).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK='# written by lee-gpu .ci/slurm-up.sh'
STATE=/var/lib/lee-slurm
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  echo "slurm already up: $(sinfo -h -o '%N %T %c CPUs' | head -1)"
  exit 0
fi
started() { echo "$1" | "${SUDO[@]}" tee -a "$STATE/started" >/dev/null; }

if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  echo "$CONF exists and was not written by this script; not touching it" >&2
  exit 1
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

"${SUDO[@]}" mkdir -p "$STATE/ctld" "$STATE/d" /etc/slurm /run/munge
"${SUDO[@]}" tee "$CONF" >/dev/null <<CONF
$MARK
ClusterName=lee
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=lee Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# munge: a key (the package makes one; a bare install may not), then the daemon as
# its own user
if [ ! -s /etc/munge/munge.key ]; then
  "${SUDO[@]}" mungekey --create --force 2>/dev/null || "${SUDO[@]}" dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
"${SUDO[@]}" chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
"${SUDO[@]}" chmod 0700 /etc/munge
"${SUDO[@]}" chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  "${SUDO[@]}" runuser -u munge -- /usr/sbin/munged
  started munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

"${SUDO[@]}" slurmctld
started slurmctld
"${SUDO[@]}" slurmd
started slurmd
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm up: $(sinfo -h -o '%N %T %c CPUs' | head -1)"
    exit 0
  fi
  sleep 0.2
done
echo "slurm did not come up; the logs:" >&2
tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
exit 1
