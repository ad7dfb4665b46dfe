#!/usr/bin/env bash
# Install SLURM and munge from Debian's packages (root), for tests/test_slurm.py and up.sh.
# Idempotent: does nothing when they are already installed. Call from .ci/run before the tests.
set -euo pipefail
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null; then
    exit 0
fi
[[ $(id -u) == 0 ]] || { echo "install.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
