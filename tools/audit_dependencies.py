"""Audit the installed dependencies with pip-audit; say clearly when nothing could be checked.

pip-audit asks a vulnerability service (PyPI's JSON API or OSV) about each package. On a closed
network it reaches neither and reports every package as "not found", which its summary calls
"No known vulnerabilities found". This wrapper fails on any known vulnerability, and prints
how many packages were really audited.
"""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    """Run pip-audit; exit 1 on vulnerabilities, 0 otherwise (with an honest summary)."""
    result = subprocess.run(  # noqa: S603 (our own venv's pip-audit)
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit did not run: {result.stderr.strip()[-500:]}")  # noqa: T201
        return 1
    packages = report.get("dependencies", [])
    vulnerable = [p for p in packages if p.get("vulns")]
    skipped = [p for p in packages if p.get("skip_reason")]
    audited = len(packages) - len(skipped)
    for package in vulnerable:
        ids = ", ".join(v["id"] for v in package["vulns"])
        print(f"VULNERABLE {package['name']} {package['version']}: {ids}")  # noqa: T201
    print(  # noqa: T201
        f"pip-audit: {audited} of {len(packages)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if skipped and not audited:
        print(  # noqa: T201
            "pip-audit: no vulnerability service was reachable from this machine, so nothing "
            "was checked; run `make lint` where PyPI's JSON API or api.osv.dev answers."
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    raise SystemExit(main())
