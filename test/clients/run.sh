#!/usr/bin/env bash
# The client tier: CyberArk's real clients against Strongroom. Builds each client once (cached by
# version under ~/.cache/strongroom/clients, see harness/clients/build.sh), then runs them and prints
# the table: client, version, checks passed/total. A client that cannot be built shows as such.
#   npm run test:clients                 all
#   bash test/clients/run.sh conjur-cli  one file (test/clients/<name>.test.ts)
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${STRONGROOM_CLIENTS_NO_BUILD:-}" ]; then
  bash harness/clients/build.sh || echo "[clients] some clients were not built; the table says which" >&2
fi
specs=()
if [ $# -gt 0 ]; then for n in "$@"; do specs+=("test/clients/$n.test.ts"); done; else specs=(test/clients/*.test.ts); fi
exec node_modules/node/bin/node node_modules/mocha/bin/mocha.js --no-config --node-option import=tsx \
  --require test/support/hooks.ts --require test/clients/hooks.ts --timeout 120000 --exit "${specs[@]}"
