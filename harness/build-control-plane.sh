#!/usr/bin/env bash
# Builds the real control plane used by `npm run test:cluster` from the Go module proxy only:
# kube-apiserver + kube-controller-manager (one wrapper module over k8s.io/kubernetes), etcd (a
# wrapper over go.etcd.io/etcd/server/v3) and kwok (`go install`: its go.mod has no replace lines).
# Binaries are cached outside the repository, keyed by version; a second run builds nothing.
# Why wrapper modules: `go install` refuses modules whose go.mod has replace lines (see
# docs/testing-cluster.md).
set -euo pipefail
KUBE_VERSION=${KUBE_VERSION:-v1.34.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.14}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${STRONGROOM_CACHE:-$HOME/.cache/strongroom}
here=$(cd "$(dirname "$0")" && pwd)
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

build_kube() {
  local out=$CACHE/kube-$KUBE_VERSION
  [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && return 0
  local work=$CACHE/build/kube-$KUBE_VERSION
  rm -rf "$work" && mkdir -p "$work/kube-apiserver" "$work/kube-controller-manager"
  local staging=v0.${KUBE_VERSION#v1.}
  {
    printf 'module local/kube\n\ngo 1.24.0\n\ngodebug default=go1.24\n\n'
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
      cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
      cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms \
      kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
      echo "replace k8s.io/$m => k8s.io/$m $staging"
    done
  } >"$work/go.mod"
  sed 's/@APP@/kube-apiserver/; s/@NEW@/NewAPIServerCommand/' "$here/kube-main.go.in" >"$work/kube-apiserver/main.go"
  sed 's/@APP@/kube-controller-manager/; s/@NEW@/NewControllerManagerCommand/' "$here/kube-main.go.in" \
    >"$work/kube-controller-manager/main.go"
  (cd "$work" && go get "k8s.io/kubernetes@$KUBE_VERSION" && go mod tidy)
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local V=k8s.io/component-base/version
  (cd "$work" && go build -trimpath -o "$work/bin/" -ldflags "-s -w -X $V.gitMajor=1 -X $V.gitMinor=$minor \
    -X $V.gitVersion=$KUBE_VERSION -X $V.gitTreeState=clean -X $V.buildDate=2025-01-01T00:00:00Z" \
    ./kube-apiserver ./kube-controller-manager)
  mkdir -p "$out" && mv "$work/bin/"* "$out/"
}

build_etcd() {
  local out=$CACHE/etcd-$ETCD_VERSION
  [ -x "$out/etcd" ] && return 0
  local work=$CACHE/build/etcd-$ETCD_VERSION
  rm -rf "$work" && mkdir -p "$work"
  printf 'module local/etcd\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$work/go.mod"
  cp "$here/etcd-main.go.in" "$work/main.go"
  (cd "$work" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" .)
  mkdir -p "$out" && mv "$work/bin/etcd" "$out/"
}

build_kwok() {
  local out=$CACHE/kwok-$KWOK_VERSION
  [ -x "$out/kwok" ] && [ -f "$out/stages.yaml" ] && return 0
  mkdir -p "$out"
  GOBIN=$out go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  local dir; dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for f in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cat "$dir/kustomize/stage/$f.yaml"; echo '---'
  done >"$out/stages.yaml"
}

what=${1:-all}
case $what in
  kube) build_kube ;; etcd) build_etcd ;; kwok) build_kwok ;;
  all) build_etcd; build_kube; build_kwok ;;
  *) echo "usage: $0 [all|kube|etcd|kwok]" >&2; exit 2 ;;
esac
