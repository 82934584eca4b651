#!/usr/bin/env bash
# Create .venv with AIGC installed in it; --dev adds the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "AIGC needs Python 3.11: set PYTHON=/path/to/python3.11 and run this again" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
.venv/bin/pip install --quiet --editable ".${extras}"
echo "AIGC is installed in .venv: .venv/bin/aigc --help"
