#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine (Debian's slurm-wlm and munge; slurmctld and
# slurmd started here, no systemd), and cavern's sharded runs through it: the quickstart and
# toy_recall_interventions each submitted as a 4-task job array with `cavern slurm --submit`,
# their merge jobs waited for, and the merged run folders compared byte for byte (tables, CAVs,
# report) with unsharded runs. Then a sweep (.ci/slurm-sweep.toml) as a 2-shard array, one CPU
# per task, against the unsharded run on one CPU: the wall times and their ratio.
#
# Usage (as root, from the repository root): .ci/slurm-check.sh CAVERN_BINARY WORK_DIR
set -euo pipefail
cavern=$(realpath "$1")
work=$(realpath -m "$2")
mkdir -p "$work"
export DEBIAN_FRONTEND=noninteractive

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing Debian's slurm-wlm and munge"
    apt-get update -qq </dev/null
    apt-get install -y -qq slurm-wlm munge </dev/null >/dev/null
fi

echo "== munge"
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

echo "== slurm.conf for this machine"
host=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=cavern-ci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [[ $state == idle* ]] && break
    sleep 1
done
sinfo
[[ $(sinfo -h -o %T) == idle* ]] || { tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log; exit 1; }

# wait_for JOB: until the job (all of its array tasks) has left the queue.
wait_for() {
    for _ in $(seq 4500); do
        [[ -z $(squeue -h -j "$1" 2>/dev/null) ]] && return 0
        sleep 0.2
    done
    echo "job $1 still queued after 15 minutes"; squeue; return 1
}

# same_outputs A B: the tables, CAVs and report (but for its Timings table) of two run folders
# are byte-identical.
same_outputs() {
    diff -r "$1/tables" "$2/tables"
    diff -r "$1/cavs" "$2/cavs"
    diff <(sed '/<h2>Timings<\/h2>/,/<\/table>/d' "$1/report.html") \
        <(sed '/<h2>Timings<\/h2>/,/<\/table>/d' "$2/report.html")
}

for experiment in quickstart toy_recall_interventions; do
    echo "== $experiment: unsharded, then 4 shards as a Slurm job array and a merge job"
    plain=$("$cavern" run "experiments/$experiment.toml" --quiet --runs-root "$work/plain" | sed -n 's/^wrote //p')
    submitted=$("$cavern" slurm "experiments/$experiment.toml" --shards 4 --cpus 1 \
        --runs-root "$work/slurm" --submit)
    echo "$submitted"
    array=$(sed -n 's/.*submitted job array \([0-9]*\).*/\1/p' <<<"$submitted")
    merge=$(sed -n 's/.* merge job \([0-9]*\);.*/\1/p' <<<"$submitted")
    wait_for "$array" && wait_for "$merge"
    merged=$(sed -n 's/.*the run folder will be //p' <<<"$submitted")
    if [[ ! -f $merged/manifest.json ]]; then
        echo "the merge job wrote no run folder"; tail -n 20 "$merged".slurm/logs/*; exit 1
    fi
    same_outputs "$plain" "$merged"
    echo "$experiment: the merged run equals the unsharded one (tables, CAVs, report)"
done

echo "== wall time: a sweep of four equal TCAV studies unsharded on one CPU, and as 2 shards with one CPU each"
sweep=.ci/slurm-sweep.toml
start=$(date +%s.%N)
RAYON_NUM_THREADS=1 taskset -c 0 "$cavern" run "$sweep" --quiet --out "$work/one-cpu"
one=$(awk "BEGIN {print $(date +%s.%N) - $start}")
start=$(date +%s.%N)
submitted=$("$cavern" slurm "$sweep" --shards 2 --cpus 1 --runs-root "$work/two-shards" --submit)
array=$(sed -n 's/.*submitted job array \([0-9]*\).*/\1/p' <<<"$submitted")
merge=$(sed -n 's/.* merge job \([0-9]*\);.*/\1/p' <<<"$submitted")
wait_for "$array"
two=$(awk "BEGIN {print $(date +%s.%N) - $start}")
wait_for "$merge"
same_outputs "$work/one-cpu" "$(sed -n 's/.*the run folder will be //p' <<<"$submitted")"
printf 'unsharded on 1 CPU: %.1f s; 2 shards, 1 CPU each, submission to the last task'"'"'s end: %.1f s (%.2f of the unsharded time)\n' \
    "$one" "$two" "$(awk "BEGIN {print $two / $one}")"
