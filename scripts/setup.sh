#!/usr/bin/env bash
# Create .venv with AIGC installed in it.
#   --dev     add the test and lint tools
#   --docker  also make sure a Docker engine runs and build the agent-runtime image
#   --browser also install Debian's chromium for the browser tests (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
docker=0
browser=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --docker) docker=1 ;;
    --browser) browser=1 ;;
    *) echo "unknown option $arg: use --dev, --docker and/or --browser" >&2; exit 2 ;;
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
# The platform (with the text challenge's packages) and training; a participant needs
# neither: `pip install .` alone gives the agents' and the remote commands.
extras="platform,train"
[ "$dev" = 1 ] && extras="platform,train,dev"
.venv/bin/pip install --quiet --editable ".[$extras]"

if [ "$browser" = 1 ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing: install Debian's chromium package (as root) for the browser tests" >&2
    exit 1
  fi
  echo "installing chromium from Debian's packages"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
fi
# The corpus of the text environment is rebuilt from Debian's fortunes in the tests.
if [ "$dev" = 1 ] && [ ! -f /usr/share/games/fortunes/wisdom ] && [ "$(id -u)" = 0 ]; then
  echo "installing fortunes from Debian's packages"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq fortunes >/dev/null
fi
if [ "$docker" = 1 ]; then
  bash scripts/docker-engine.sh
  .venv/bin/aigc sandbox build
  # docker/compose.yaml runs with Docker's compose plugin or Debian's docker-compose.
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      echo "docker-compose is missing: install Debian's docker-compose package (as root)" >&2
      exit 1
    fi
    echo "installing docker-compose from Debian's packages"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq docker-compose >/dev/null
  fi
fi
echo "AIGC is installed in .venv: .venv/bin/aigc --help"
