#!/usr/bin/env bash
# Bring up a throw-away single-node SLURM (munged + slurmctld + slurmd) from Debian's packages.
#
#   STATE=$(.ci/slurm/up.sh [STATE_DIR])   # default: a new mktemp -d; its path is printed
#   . "$STATE/env"                         # exports SLURM_CONF for sbatch / squeue / snakemake
#   .ci/slurm/down.sh "$STATE"             # stops exactly the daemons started here ($STATE/pids)
#
# Config, munge key and socket, spool, state and logs live in STATE_DIR; the machine's munged
# (if any) is left alone. One system file is touched: /etc/slurm/slurm.conf becomes a symlink
# to STATE_DIR/slurm.conf (down.sh removes it), because the plugin's job step drops SLURM_CONF
# before its nested `srun` (snakemake-executor-plugin-slurm issue #164), so srun inside a job
# only finds the default path. Needs root and `slurmctld slurmd slurm-client munge`
# (.ci/slurm/install.sh). Ports are picked free at start.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${1:-$(mktemp -d /tmp/dynbus-slurm.XXXXXX)}
default_conf=/etc/slurm/slurm.conf

die() { echo "up.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (the daemons run as root)"
for cmd in munged mungekey slurmctld slurmd sinfo python3; do
    command -v "$cmd" >/dev/null || die "$cmd not found: run .ci/slurm/install.sh"
done
if [[ -e $default_conf || -L $default_conf ]]; then
    die "$default_conf exists ($(readlink -f "$default_conf")): a SLURM is already configured here"
fi
mkdir -p "$state"/{spool,state,log}
state=$(cd "$state" && pwd)
chmod 755 "$state"   # munged wants its socket's directory searchable
[[ ! -e $state/pids ]] || die "$state/pids exists: run down.sh $state first"

node=$(hostname -s)
# The node name must resolve (slurmctld and slurmd look it up).
getent hosts "$node" >/dev/null || echo "127.0.0.1 $node" >>/etc/hosts

# The node's CPUs and memory as slurmd itself sees them: RealMemory must not exceed the machine's.
read -r cpus mem < <(slurmd -C | awk '/^NodeName/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print v["CPUs"], v["RealMemory"] }')
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
ctld_port=$(free_port)
slurmd_port=$(free_port)

mungekey --create --keyfile="$state/munge.key" --force
cat >"$state/slurm.conf" <<CONF
# Written by .ci/slurm/up.sh: single-node test cluster, no accounting database.
ClusterName=dynbus-ci
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge.socket
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
# Containers without a writable cgroup hierarchy: track processes by parent PID.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# Cores and memory are consumable: every job must ask for --mem (the plugin sends mem_mb).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Finished jobs stay visible to squeue this long. Without slurmdbd the profile polls with
# squeue, which the plugin only trusts when MinJobAge >= 3 x slurm-init-seconds-before-status-checks.
MinJobAge=600
SchedulerType=sched/backfill
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$state/cgroup.conf" <<CONF
# Written by .ci/slurm/up.sh: slurmd 22.05 always loads a cgroup plugin; nothing is constrained.
CgroupPlugin=autodetect
CgroupAutomount=no
CONF
echo "export SLURM_CONF=$state/slurm.conf" >"$state/env"
export SLURM_CONF=$state/slurm.conf

# From here on, a failure stops what was started so far (and removes the symlink).
fail() {
    echo "up.sh: $*, logs in $state/log:" >&2
    tail -n 5 "$state"/log/*.log >&2 || true
    KEEP_STATE=1 "$here/down.sh" "$state" >&2 || true
    exit 1
}
trap 'fail "command failed at line $LINENO"' ERR
: >"$state/pids"
mkdir -p "$(dirname "$default_conf")"
ln -s "$state/slurm.conf" "$default_conf"
echo "link $default_conf" >>"$state/pids"

start() {  # start NAME CMD...: run a daemon in the foreground, in the background; record its PID
    local name=$1
    shift
    "$@" </dev/null >>"$state/log/$name.out" 2>&1 &
    echo "$name $!" >>"$state/pids"
}
start munged munged --foreground --force --socket="$state/munge.socket" \
    --key-file="$state/munge.key" --pid-file="$state/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munged.seed"
for _ in $(seq 50); do [[ -S $state/munge.socket ]] && break; sleep 0.1; done
start slurmctld slurmctld -D -i
start slurmd slurmd -D

# Ready when the node is idle (slurmd registered with slurmctld).
for _ in $(seq 300); do
    [[ $(sinfo -h -n "$node" -o %t 2>/dev/null) == idle ]] && { echo "$state"; exit 0; }
    while read -r name pid; do
        [[ $name == link ]] || kill -0 "$pid" 2>/dev/null || fail "$name exited"
    done <"$state/pids"
    sleep 0.1
done
fail "node $node not idle after 30 s"
