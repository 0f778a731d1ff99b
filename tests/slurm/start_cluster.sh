#!/usr/bin/env bash
# Starts a single-node Slurm cluster for the tests: munged, slurmctld and slurmd (as root, or
# as the current user), every file under the folder given, this host as the only node.
#   tests/slurm/start_cluster.sh DIR
# Writes DIR/env (". DIR/env" sets SLURM_CONF for sbatch, squeue, scancel) and waits until
# sinfo shows the node idle. tests/slurm/stop_cluster.sh DIR stops what this started.
# No cgroup plugins (it runs in containers too): processes are tracked by /proc, no job
# accounting. Ports are chosen free at start.
set -euo pipefail
dir=${1:?usage: start_cluster.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
for cmd in munged mungekey slurmctld slurmd sinfo; do
  command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$cmd" >/dev/null 2>&1 || { echo "start_cluster: $cmd not found (install munge, slurmctld, slurmd, slurm-client)" >&2; exit 2; }
done
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 0700 "$dir/munge"
user=$(id -un)
node=$(hostname -s)
cpus=$(nproc)

# munge: a fresh key, its own socket
mungekey --create --keyfile="$dir/munge/munge.key" --force 2>/dev/null \
  || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

read -r ctld_port slurmd_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

cat > "$dir/slurm.conf" <<CONF
ClusterName=olivetest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
echo "export SLURM_CONF=$dir/slurm.conf" > "$dir/env"
export SLURM_CONF=$dir/slurm.conf

slurmctld -i -f "$dir/slurm.conf"
slurmd -f "$dir/slurm.conf" -N "$node"

for _ in $(seq 1 60); do
  state=$(sinfo --noheader --nodes="$node" --format=%T 2>/dev/null || true)
  if [ "$state" = "idle" ]; then
    echo "start_cluster: node $node idle ($cpus CPUs), SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 1
done
echo "start_cluster: the node did not become idle (state '${state:-none}'); logs in $dir" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
