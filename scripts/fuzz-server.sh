#!/usr/bin/env bash
# Generated input against a release build of the server, in its own
# process, for as long as asked (SPEC 10): the generator and properties of
# `cargo test --test generated`, with a new seed each run (or the one
# given). Every failing case is kept in tests/generated/regressions/,
# which `cargo test --test generated` replays: commit the ones that show a
# real fault, with the fix.
#
#   scripts/fuzz-server.sh                 # 10 minutes, a random seed
#   scripts/fuzz-server.sh 3600            # an hour
#   scripts/fuzz-server.sh 600 12345       # ten minutes of seed 12345
#
# With AGENTGRAPH_TEST_POSTGRES_URL set, the server runs on a fresh
# PostgreSQL database there instead of SQLite.
set -euo pipefail

cd "$(dirname "$0")/.."

export AGENTGRAPH_GENERATED_SECONDS="${1:-${AGENTGRAPH_GENERATED_SECONDS:-600}}"
seed="${2:-${AGENTGRAPH_GENERATED_SEED:-}}"
if [[ -n "$seed" ]]; then
    export AGENTGRAPH_GENERATED_SEED="$seed"
fi
export AGENTGRAPH_GENERATED_FAILURES="${AGENTGRAPH_GENERATED_FAILURES:-$PWD/tests/generated/regressions}"

exec cargo test --release --test generated generated_for_as_long_as_asked -- \
    --ignored --nocapture
