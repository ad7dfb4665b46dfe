#!/usr/bin/env bash
# Snakemake runs this once in a freshly created env (envs/<name>.post-deploy.sh; torch and stats
# link here). It adds a `dynbus` command that runs the checkout's package with the env's Python:
# the workflow puts <checkout>/src on PYTHONPATH, so the env holds only third-party pins and is
# not tied to one checkout.
set -euo pipefail
cat >"$CONDA_PREFIX/bin/dynbus" <<'SH'
#!/usr/bin/env sh
exec python -m dynbus "$@"
SH
chmod +x "$CONDA_PREFIX/bin/dynbus"
