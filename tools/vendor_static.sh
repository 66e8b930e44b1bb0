#!/bin/sh
# Refresh the front-end packages served from app/static/vendor (no CDN: the portal runs on closed
# networks). Each comes from its npm package, with its licence beside it. Run by hand when
# upgrading; the files are committed, so neither `make run` nor `make test` needs npm.
set -eu
CHARTJS=chart.js@4.6.1
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "$CHARTJS" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
v="$here/app/static/vendor"
cp chart.js-*/package/dist/chart.umd.min.js chart.js-*/package/LICENSE.md "$v/chartjs/"
echo "vendored $CHARTJS into $v"
