#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, without systemd: for tests/slurm.rs, and for
# trying `runner slurm --submit` before using a real cluster. Needs root and Debian's
# `slurm-wlm` and `munge` (scripts/setup.sh installs them).
#
#   scripts/slurm-local.sh start STATE_DIR   # config, munged (unless running), slurmctld, slurmd
#   export SLURM_CONF=STATE_DIR/slurm.conf   # sbatch, squeue, scontrol, sinfo then use it
#   scripts/slurm-local.sh stop STATE_DIR    # stops, by PID, what `start` started
#
# Everything (config, state, spool, logs, PID files) lives in STATE_DIR. The ports are
# SLURMCTLD_PORT and SLURMD_PORT (default 6817 and 6818), so clusters can coexist.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
state=$(realpath -m "$2")

# Seconds to wait for a daemon to start or stop.
WAIT=30

start() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: must run as root" >&2
    exit 1
  fi
  for tool in munged munge unmunge slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "slurm-local: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
  done
  mkdir -p "$state/state" "$state/spool" "$state/log"

  # The node as slurmd sees it: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105".
  local host hw cpus mem
  host=$(hostname -s)
  hw=$(slurmd -C | head -n 1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  if [ -z "$cpus" ] || [ -z "$mem" ]; then
    echo "slurm-local: cannot read CPUs and RealMemory from 'slurmd -C': $hw" >&2
    exit 1
  fi
  cat >"$state/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster, no accounting, no systemd.
ClusterName=local
SlurmctldHost=$host
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
# Schedule within a second of a submission or a task ending (the defaults are for big sites).
SchedulerParameters=sched_interval=1,bf_interval=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
# Kill a cancelled task's processes right away.
KillWait=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # munged: reuse a running one, else start one (and stop it again in `stop`).
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if [ ! -f /etc/munge/munge.key ]; then
      mungekey --create --keyfile=/etc/munge/munge.key
      chown munge:munge /etc/munge/munge.key
      chmod 400 /etc/munge/munge.key
    fi
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$state/munged.pid"
    munge -n | unmunge >/dev/null
  fi

  export SLURM_CONF=$state/slurm.conf
  slurmctld
  slurmd
  local i
  for ((i = 0; i < WAIT * 2; i++)); do
    if [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ]; then
      echo "slurm-local: node $host idle ($cpus CPUs, $mem MB); export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 0.5
  done
  echo "slurm-local: node $host not idle after ${WAIT} s; logs:" >&2
  tail -n 20 "$state"/log/*.log >&2 || true
  exit 1
}

# Stops the process whose PID is in file $1, waiting for it to end.
stop_pid_file() {
  local file=$1 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for ((i = 0; i < WAIT * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

stop() {
  stop_pid_file "$state/slurmd.pid"
  stop_pid_file "$state/slurmctld.pid"
  stop_pid_file "$state/munged.pid"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
