#!/usr/bin/env bash
# `npm run test:cluster`: Strongroom against a real control plane (etcd, kube-apiserver,
# kube-controller-manager built from the Go module proxy, cached under ~/.cache/strongroom).
# See docs/testing-cluster.md. Extra arguments go to mocha (e.g. a single file).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash harness/build-control-plane.sh kube
bash harness/build-control-plane.sh etcd
echo "control plane binaries ready in $(( $(date +%s) - start )) s"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(test/cluster/*.test.ts)
npx mocha --no-config --node-option import=tsx --require test/cluster/fixture.ts \
  --timeout 120000 --exit "${files[@]}"
echo "cluster tier: $(( $(date +%s) - start )) s in all"
