#!/bin/sh
# Refresh the front-end packages served from app/static/vendor (no CDN: the portal runs on closed
# networks). Each comes from its npm package, with its licence beside it. Run by hand when
# upgrading; the files are committed, so neither `make run` nor `make test` needs npm.
set -eu
HTMX=htmx.org@2.0.11
CHARTJS=chart.js@4.6.1
PICO=@picocss/pico@2.1.1
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "$HTMX" "$CHARTJS" "$PICO" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
v="$here/app/static/vendor"
cp htmx.org-*/package/dist/htmx.min.js htmx.org-*/package/LICENSE "$v/htmx/"
cp chart.js-*/package/dist/chart.umd.min.js chart.js-*/package/LICENSE.md "$v/chartjs/"
cp picocss-pico-*/package/css/pico.min.css picocss-pico-*/package/LICENSE.md "$v/pico/"
echo "vendored $HTMX $CHARTJS $PICO into $v"
