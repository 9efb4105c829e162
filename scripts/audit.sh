#!/usr/bin/env bash
# Audit the locked dependencies for known vulnerabilities with pip-audit, strictly (a dependency that
# cannot be audited fails the run). pip-audit reads PyPI's per-release JSON; where this machine cannot
# reach it (a registry mirror without that endpoint) the audit would check nothing, so say so loudly
# instead of printing a green result that means nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
probe="https://pypi.org/pypi/pip/24.0/json"
if ! python3 - "$probe" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
then
  echo "pip-audit: SKIPPED - PyPI's vulnerability data ($probe) is not reachable from this machine;"
  echo "           run 'make lint' where it is (any machine with internet access)."
  exit 0
fi
exec .venv/bin/pip-audit --strict --progress-spinner off -r constraints.txt
