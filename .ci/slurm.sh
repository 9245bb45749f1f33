#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine for the Slurm backend tests (tests/agent/test_slurm*).
#
#   .ci/slurm.sh start    # prints the `export` lines to use it from a shell
#   .ci/slurm.sh stop
#
# or `source .ci/slurm.sh` and call start_slurm / stop_slurm (what .ci/services.sh does).
#
# What it sets up, all under $SUANLI_SLURM_DIR (default /tmp/suanli-slurm), nothing in /etc/slurm:
# - slurm-wlm and munge from apt when slurmctld is missing (Debian's 22.05 is what it was built on);
# - munged on its default socket (reused when one already answers), with a key made if none exists;
# - slurm.conf, gres.conf and cgroup.conf; SLURM_CONF is exported so every command finds them;
# - two nodes, n1 and n2, each with Gres=gpu:4 on fake GPUs: character devices made with mknod
#   (major 195, like nvidia's), so Slurm sets CUDA_VISIBLE_DEVICES as it would on a real node.
#   Both nodes run on this host in Slurm's multiple-slurmd mode (NodeHostname=localhost, one port
#   each, `slurmd -N name`); set SUANLI_SLURM_NODES=1 for a single node;
# - proctrack/cgroup on cgroup v1 when the freezer hierarchy is writable (so scancel kills every
#   process of a job, setsid'd grandchildren included), else proctrack/linuxproc;
# - partition `gpu` (Default=YES); MinJobAge=3600 so ended jobs stay visible to squeue/scontrol.
#
# Exports SLURM_CONF, SUANLI_SLURM=1 and SUANLI_SLURM_DIR. stop_slurm cancels the jobs, stops the
# Slurm daemons and removes the directory; munged (a system daemon, maybe shared) is left running.

_suanli_slurm_log() { echo "slurm: $*" >&2; }

_suanli_slurm_install() {
  if command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ]; then return 0; fi
  _suanli_slurm_log "slurmctld missing: installing slurm-wlm and munge from apt"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

_suanli_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || true
    fi
    [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  if id munge >/dev/null 2>&1; then
    chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
    chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
  else
    chmod 0400 /etc/munge/munge.key
    /usr/sbin/munged --force
  fi
  local i
  for i in $(seq 50); do
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  _suanli_slurm_log "munged does not answer"
  return 1
}

# proctrack/cgroup needs a cgroup hierarchy Slurm can write: here, cgroup v1 with a freezer.
_suanli_slurm_proctrack() {
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != "cgroup2fs" ] && [ -d /sys/fs/cgroup/freezer ] \
     && mkdir /sys/fs/cgroup/freezer/suanli-probe.$$ 2>/dev/null; then
    rmdir /sys/fs/cgroup/freezer/suanli-probe.$$
    echo cgroup
  else
    echo linuxproc
  fi
}

_suanli_slurm_write_conf() {
  local dir="$1" nodes="$2" proctrack="$3" ctld_port="$4" node_port="$5"
  local names="" i
  for i in $(seq "$nodes"); do names="${names:+$names,}n$i"; done
  cat >"$dir/etc/slurm.conf" <<EOF
# suanli-ci: a throwaway cluster made by .ci/slurm.sh
ClusterName=suanli
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/$proctrack
TaskPlugin=task/none
SlurmdParameters=config_overrides
GresTypes=gpu
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
KillWait=2
InactiveLimit=0
OverTimeLimit=0
ReturnToService=2
MpiDefault=none
EOF
  : >"$dir/etc/gres.conf"
  for i in $(seq "$nodes"); do
    local first=$(( (i - 1) * 4 ))
    echo "NodeName=n$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((node_port + i - 1)) CPUs=8 RealMemory=4096 Gres=gpu:4 State=UNKNOWN" \
      >>"$dir/etc/slurm.conf"
    echo "NodeName=n$i Name=gpu File=$dir/dev/nvidia[$first-$((first + 3))]" >>"$dir/etc/gres.conf"
  done
  echo "PartitionName=gpu Nodes=$names Default=YES MaxTime=INFINITE State=UP" >>"$dir/etc/slurm.conf"
  if [ "$proctrack" = "cgroup" ]; then
    printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainDevices=no\n' >"$dir/etc/cgroup.conf"
  else
    printf 'CgroupPlugin=autodetect\n' >"$dir/etc/cgroup.conf"
  fi
}

_suanli_slurm_wait_nodes() {
  local nodes="$1" i
  for i in $(seq 150); do
    if [ "$(sinfo -h -N -t idle,mixed,allocated -o '%N' 2>/dev/null | sort -u | wc -l)" = "$nodes" ]; then return 0; fi
    sleep 0.2
  done
  return 1
}

start_slurm() {
  local dir="${SUANLI_SLURM_DIR:-/tmp/suanli-slurm}"
  local nodes="${SUANLI_SLURM_NODES:-2}" ctld_port="${SUANLI_SLURM_PORT:-16817}"
  local node_port=$((ctld_port + 1)) proctrack i
  _suanli_slurm_install || { _suanli_slurm_log "could not install Slurm"; return 1; }
  _suanli_munge || return 1
  [ -f "$dir/run/slurmctld.pid" ] && SUANLI_SLURM_DIR="$dir" stop_slurm
  rm -rf "$dir"
  mkdir -p "$dir"/{etc,state,spool,run,log,dev}
  for i in $(seq 0 $((nodes * 4 - 1))); do mknod "$dir/dev/nvidia$i" c 195 "$i"; done
  proctrack="$(_suanli_slurm_proctrack)"
  _suanli_slurm_write_conf "$dir" "$nodes" "$proctrack" "$ctld_port" "$node_port"
  export SLURM_CONF="$dir/etc/slurm.conf" SUANLI_SLURM_DIR="$dir"
  for i in $(seq "$nodes"); do mkdir -p "$dir/spool/n$i"; done
  /usr/sbin/slurmctld -i -f "$SLURM_CONF" || { _suanli_slurm_log "slurmctld did not start"; cat "$dir/log/slurmctld.log" >&2; return 1; }
  for i in $(seq "$nodes"); do
    /usr/sbin/slurmd -f "$SLURM_CONF" -N "n$i" || { _suanli_slurm_log "slurmd n$i did not start"; cat "$dir/log/slurmd-n$i.log" >&2; return 1; }
  done
  if ! _suanli_slurm_wait_nodes "$nodes"; then
    _suanli_slurm_log "nodes did not come up:"; sinfo -N >&2; tail -n 20 "$dir"/log/*.log >&2
    return 1
  fi
  export SUANLI_SLURM=1
  _suanli_slurm_log "up: $nodes node(s) x gpu:4, proctrack/$proctrack, SLURM_CONF=$SLURM_CONF"
}

stop_slurm() {
  local dir="${SUANLI_SLURM_DIR:-/tmp/suanli-slurm}" f pid i
  [ -d "$dir" ] || return 0
  SLURM_CONF="$dir/etc/slurm.conf" scancel --quiet --user="$(id -un)" 2>/dev/null || true
  for f in "$dir"/run/slurmd-*.pid "$dir"/run/slurmctld.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || continue
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
  unset SUANLI_SLURM
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) start_slurm; echo "export SLURM_CONF=$SLURM_CONF SUANLI_SLURM=1 SUANLI_SLURM_DIR=$SUANLI_SLURM_DIR" ;;
    stop) stop_slurm ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
  esac
fi
