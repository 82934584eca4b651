#!/usr/bin/env bash
# Create .venv with AIGC installed in it.
#   --dev     add the test and lint tools
#   --docker  also make sure a Docker engine runs and build the agent-runtime image
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
docker=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --docker) docker=1 ;;
    *) echo "unknown option $arg: use --dev and/or --docker" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "AIGC needs Python 3.11: set PYTHON=/path/to/python3.11 and run this again" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv

# torch first and exactly: a looser spelling could pull a CUDA build of several GB.
.venv/bin/pip install --quiet "torch==2.13.0"
extras="torch"
[ "$dev" = 1 ] && extras="torch,dev"
.venv/bin/pip install --quiet --editable ".[$extras]"

if [ "$docker" = 1 ]; then
  bash scripts/docker-engine.sh
  .venv/bin/aigc sandbox build
fi
echo "AIGC is installed in .venv: .venv/bin/aigc --help"
