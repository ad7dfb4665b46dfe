#!/usr/bin/env bash
# Stop exactly what .ci/slurm/up.sh started (the PIDs in STATE_DIR/pids, TERM then KILL after
# 10 s), remove its /etc/slurm/slurm.conf symlink, then STATE_DIR unless KEEP_STATE=1.
# Usage: .ci/slurm/down.sh STATE_DIR
set -euo pipefail
state=${1:?usage: down.sh STATE_DIR}
pids=$state/pids
[[ -f $pids ]] || { echo "down.sh: no $pids: nothing was started there" >&2; exit 1; }
# slurmd first, munged last (the others authenticate through it).
for name in slurmd slurmctld munged; do
    pid=$(awk -v n="$name" '$1 == n {print $2}' "$pids")
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
done
link=$(awk '$1 == "link" {print $2}' "$pids")
# Only the link up.sh made, still pointing into this state dir.
if [[ -n $link && -L $link && $(readlink "$link") == "$state/slurm.conf" ]]; then
    rm -f "$link"
fi
rm -f "$pids"
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf "$state"
