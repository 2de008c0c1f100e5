#!/usr/bin/env bash
# Builds CyberArk's real clients once each, cached by version outside the repository:
#   ~/.cache/strongroom/clients/<name>-<version>/   (STRONGROOM_CLIENTS_CACHE overrides the root)
# Usage: harness/clients/build.sh [name ...]   (default: all, cheapest first)
# Names: summon summon-conjur conjur-cli conjur-api-go-tests python-sdk secrets-provider, and eso
# (not in the default set: its build is measured separately, see docs/compatibility.md)
#
# Where the code comes from, in this order (nothing is ever copied into this repository):
#   1. the Go module proxy / PyPI: a wrapper module (harness/clients/<name>/*.in), `go build` in a
#      writable copy of a module zip, or `pip install` into a venv;
#   2. nothing else: when the proxy refuses a module (403 "not available": conjur-cli-go,
#      summon-conjur and secrets-provider-for-k8s today) the client is recorded as not built
#      ($CACHE/<name>-<version>/NOT-BUILT says why) and the tier shows it as such. This project
#      builds other projects only through the registries; a binary placed in the cache by other
#      means (e.g. `make` in an upstream checkout) is used as it is.
# Each build's wall time is appended to $CACHE/build-times.tsv.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${STRONGROOM_CLIENTS_CACHE:-$HOME/.cache/strongroom/clients}"
mkdir -p "$CACHE/src"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Pinned versions (the tier prints them; docs/compatibility.md lists them).
CLI_VERSION=v9.1.2            CLI_PSEUDO=v0.0.0-20260204091103-e5a2d212f218   CLI_API=v0.13.15
SUMMON_VERSION=v0.11.0
SUMMON_CONJUR_VERSION=v0.9.3
API_GO_VERSION=v0.15.7
PY_SDK_VERSION=0.2.0          # conjur-api on PyPI (the version pip picks)
ESO_VERSION=v0.16.2          # the newest single-module external-secrets the proxy serves (v1.x: ~55 sub-modules)
SP_VERSION=v1.9.0             SP_API=v0.13.16 SP_AUTHN=v0.26.11 SP_TRACER=v0.0.6

log() { echo "[clients] $*" >&2; }
timed() { # name version command...: runs, records seconds, returns its status
  local name=$1 version=$2; shift 2
  local t0=$SECONDS
  "$@"; local rc=$?
  [ $((SECONDS - t0)) -ge 1 ] && printf '%s\t%s\t%ss\t%s\t%s\n' "$name" "$version" "$((SECONDS - t0))" "$([ $rc = 0 ] && echo ok || echo failed)" "$(date -u +%FT%TZ)" >> "$CACHE/build-times.tsv"
  return $rc
}
not_built() { mkdir -p "$1"; echo "$2" > "$1/NOT-BUILT"; log "$(basename "$1"): not built: $2"; }
module_copy() { # module@version dest: a writable copy of the module zip's tree
  local dir; dir=$(go mod download -json "$1" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || return 1
  rm -rf "$2"; cp -r "$dir" "$2" && chmod -R u+w "$2"
}

build_summon() { # summon: no replaces, but `go install` asks the proxy for the version list (403), so build in a copy
  local out="$CACHE/summon-$SUMMON_VERSION"; [ -x "$out/summon" ] && return 0
  local src="$CACHE/src/summon-$SUMMON_VERSION"
  module_copy "github.com/cyberark/summon@$SUMMON_VERSION" "$src" || { not_built "$out" "module proxy refused github.com/cyberark/summon@$SUMMON_VERSION"; return 1; }
  mkdir -p "$out"; rm -f "$out/NOT-BUILT"
  (cd "$src" && go build -trimpath -o "$out/summon" ./cmd)
}

build_summon_conjur() { # summon-conjur v0.9.3: two version replaces (go install refuses); not served by the proxy
  local out="$CACHE/summon-conjur-$SUMMON_CONJUR_VERSION"; [ -x "$out/summon-conjur" ] && return 0
  local src="$CACHE/src/summon-conjur-$SUMMON_CONJUR_VERSION"
  module_copy "github.com/cyberark/summon-conjur@$SUMMON_CONJUR_VERSION" "$src" ||
    { not_built "$out" "the Go module proxy refuses github.com/cyberark/summon-conjur (403): not buildable from the registries"; return 1; }
  mkdir -p "$out"; rm -f "$out/NOT-BUILT"
  (cd "$src" && go build -trimpath -o "$out/summon-conjur" ./cmd)
}

build_conjur_cli() { # Conjur CLI v9: wrapper module (replaces in its go.mod), pseudo-version (tags v9.x on a v0 path)
  local out="$CACHE/conjur-cli-go-$CLI_VERSION"; [ -x "$out/conjur" ] && return 0
  local w="$CACHE/src/conjur-cli-wrapper-$CLI_VERSION"; mkdir -p "$w" "$out"; rm -f "$out/NOT-BUILT"
  sed -e "s/@CLI_VERSION@/$CLI_PSEUDO/" -e "s/@API_VERSION@/$CLI_API/" "$HERE/conjur-cli/go.mod.in" > "$w/go.mod"
  cp "$HERE/conjur-cli/main.go.in" "$w/main.go"
  if (cd "$w" && go mod tidy >/dev/null 2>&1); then
    (cd "$w" && go build -trimpath -o "$out/conjur" .)
    return
  fi
  not_built "$out" "the Go module proxy refuses github.com/cyberark/conjur-cli-go (403): not buildable from the registries"; return 1
}

build_conjur_api_go_tests() { # conjur-api-go's own tests: a writable copy of the module zip, test binary compiled once
  local out="$CACHE/conjur-api-go-$API_GO_VERSION"; [ -x "$out/conjurapi.test" ] && return 0
  local src="$out/src"; mkdir -p "$out"; rm -f "$out/NOT-BUILT"
  module_copy "github.com/cyberark/conjur-api-go@$API_GO_VERSION" "$src" || { not_built "$out" "module proxy refused conjur-api-go@$API_GO_VERSION"; return 1; }
  (cd "$src" && go mod download && go test -c -o "$out/conjurapi.test" ./conjurapi)
}

build_python_sdk() { # the conjur-api package from PyPI in its own venv
  local out="$CACHE/python-conjur-api-$PY_SDK_VERSION"; [ -x "$out/venv/bin/python" ] && "$out/venv/bin/python" -c "import conjur_api" 2>/dev/null && return 0
  rm -rf "$out"; mkdir -p "$out"
  python3 -m venv "$out/venv" && "$out/venv/bin/pip" install -q "conjur-api==$PY_SDK_VERSION"
}

build_secrets_provider() { # secrets-provider-for-k8s: ~90 replaces, three of them `latest`; a wrapper would need the module
  local out="$CACHE/secrets-provider-$SP_VERSION"; [ -x "$out/secrets-provider" ] && return 0
  if ! go mod download -json "github.com/cyberark/secrets-provider-for-k8s@$SP_VERSION" >/dev/null 2>&1; then
    not_built "$out" "the Go module proxy refuses github.com/cyberark/secrets-provider-for-k8s (403): not buildable from the registries"; return 1
  fi
  not_built "$out" "served by the proxy now: write its wrapper module (see docs/compatibility.md)"; return 1
}

build_eso() { # External Secrets Operator: wrapper module (one replace); all providers compile in: the biggest build
  local out="$CACHE/external-secrets-$ESO_VERSION"; [ -x "$out/external-secrets" ] && return 0
  local w="$CACHE/src/eso-wrapper-$ESO_VERSION"; mkdir -p "$w" "$out"; rm -f "$out/NOT-BUILT"
  sed -e "s/@ESO_VERSION@/$ESO_VERSION/" "$HERE/eso/go.mod.in" > "$w/go.mod"
  cp "$HERE/eso/main.go.in" "$w/main.go"
  (cd "$w" && go mod tidy && go build -trimpath -o "$out/external-secrets" .)
}

versions() { # name version, one a line: what the tier reads
  printf '%s\n' "conjur-cli $CLI_VERSION" "summon $SUMMON_VERSION" "summon-conjur $SUMMON_CONJUR_VERSION" \
    "conjur-api-go-tests $API_GO_VERSION" "python-sdk $PY_SDK_VERSION" "secrets-provider $SP_VERSION" "eso $ESO_VERSION"
}
[ "${1:-}" = "--versions" ] && { versions; exit 0; }

names=("$@"); [ ${#names[@]} = 0 ] && names=(summon summon-conjur conjur-cli python-sdk conjur-api-go-tests secrets-provider)
status=0
for name in "${names[@]}"; do
  version=$(versions | awk -v n="$name" '$1 == n { print $2 }')
  fn="build_${name//-/_}"
  declare -F "$fn" >/dev/null || { log "unknown client $name"; status=1; continue; }
  t0=$SECONDS
  if timed "$name" "$version" "$fn"; then log "$name $version ready ($((SECONDS - t0))s)"; else log "$name $version NOT built ($((SECONDS - t0))s)"; fi
done
exit $status
