#!/usr/bin/env bash
# Re-vendors the GraphiQL page's assets from pinned npm releases into
# assets/graphiql/, which the binary embeds at build time (no CDN at run time).
#
#   scripts/refresh-graphiql.sh            # the versions pinned below
#   GRAPHIQL=3.9.0 REACT=18.3.1 scripts/refresh-graphiql.sh
#
# Each tarball is checked against the integrity (sha512) the npm registry
# publishes for that exact version before anything is extracted; the files
# kept, their licences, PACKAGES (name, version, integrity) and SHA256SUMS
# (which a test compares with what the binary embeds) are rewritten.
#
# GraphiQL stays on 3.x: it is the last line that ships a UMD bundle
# (graphiql.min.js, with graphql-js and CodeMirror inside) usable from plain
# <script> tags; 4.x is ESM only and needs a bundler or an import map. React
# stays on 18.x: react 19 no longer ships UMD builds.
set -euo pipefail

graphiql="${GRAPHIQL:-3.9.0}"
react="${REACT:-18.3.1}"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/assets/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION: downloads the tarball, verifies it, extracts it into
# $work/NAME and appends its line to PACKAGES.
fetch() {
  local name="$1" version="$2"
  local expected tarball actual
  expected="$(npm view "$name@$version" dist.integrity)"
  [[ "$expected" == sha512-* ]] || { echo "no sha512 integrity for $name@$version: $expected" >&2; exit 1; }
  tarball="$(cd "$work" && npm pack --silent "$name@$version" | tail -n 1)"
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [[ "$actual" != "$expected" ]]; then
    echo "integrity mismatch for $name@$version: registry $expected, download $actual" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$work/$tarball" -C "$work/$name"
  echo "$name $version $expected" >>"$work/PACKAGES"
}

: >"$work/PACKAGES"
fetch graphiql "$graphiql"
fetch react "$react"
fetch react-dom "$react"

rm -f "$dest"/*.js "$dest"/*.css "$dest"/LICENSE-*
mkdir -p "$dest"
cp "$work/graphiql/package/graphiql.min.js" "$dest/graphiql.min.js"
cp "$work/graphiql/package/graphiql.min.css" "$dest/graphiql.min.css"
cp "$work/react/package/umd/react.production.min.js" "$dest/react.production.min.js"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$dest/react-dom.production.min.js"
cp "$work/graphiql/package/LICENSE" "$dest/LICENSE-graphiql"
cp "$work/react/package/LICENSE" "$dest/LICENSE-react"
cp "$work/react-dom/package/LICENSE" "$dest/LICENSE-react-dom"
cp "$work/PACKAGES" "$dest/PACKAGES"
(cd "$dest" && sha256sum graphiql.min.css graphiql.min.js react-dom.production.min.js react.production.min.js >SHA256SUMS)

echo "assets/graphiql: graphiql $graphiql, react $react, react-dom $react"
cat "$dest/SHA256SUMS"
