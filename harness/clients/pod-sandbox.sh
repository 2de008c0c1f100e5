#!/usr/bin/env bash
# Runs a command where a pod's fixed paths exist, without touching the host's file system: a private
# mount namespace (unshare -m, as root) whose new root is a tmpfs holding bind mounts of the host's
# top-level folders, plus
#   /conjur                                      → $POD_DIR/conjur   (podinfo/, secrets/, templates/, status/)
#   /var/run/secrets/kubernetes.io/serviceaccount → $POD_DIR/serviceaccount (when it exists)
#   /usr/local/bin                                → $POD_DIR/usr-local-bin (when it exists: the image's scripts)
# and chroots into it. Everything else (network, processes, /tmp) is shared with the caller.
# Usage: POD_DIR=/tmp/x harness/clients/pod-sandbox.sh command args...
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
: "${POD_DIR:?POD_DIR must name the folder that stands in for the files of the pod}"
if [ "${1:-}" != "--inside" ]; then
  exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
root="$POD_DIR/.root"; mkdir -p "$root"
mount -t tmpfs -o mode=0755 pod-root "$root"
for entry in /*; do
  name=${entry#/}
  case "$name" in conjur|var|lost+found) continue ;; esac
  if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "$root/$name"; continue; fi
  [ -d "$entry" ] || continue
  mkdir -p "$root/$name"
  mount --rbind "$entry" "$root/$name"
done
# /var: the host's, but with a writable tmpfs at /var/run/secrets for the service account's files
mkdir -p "$root/var"
for entry in /var/*; do
  name=${entry#/var/}
  [ "$name" = run ] && continue   # often a link to /run: never write through it
  if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "$root/var/$name"; continue; fi
  [ -d "$entry" ] || continue
  mkdir -p "$root/var/$name"
  mount --rbind "$entry" "$root/var/$name"
done
mkdir -p "$root/var/run/secrets/kubernetes.io/serviceaccount" "$root/conjur"
mount --bind "$POD_DIR/conjur" "$root/conjur"
if [ -d "$POD_DIR/serviceaccount" ]; then
  mount --bind "$POD_DIR/serviceaccount" "$root/var/run/secrets/kubernetes.io/serviceaccount"
fi
# the image's own scripts (the Secrets Provider copies /usr/local/bin/conjur-secrets-unchanged.sh)
if [ -d "$POD_DIR/usr-local-bin" ]; then
  mount --bind "$POD_DIR/usr-local-bin" "$root/usr/local/bin"
fi
cd /
exec chroot "$root" "$@"
