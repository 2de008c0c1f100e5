#!/usr/bin/env bash
# Makes the base image the Dockerfile's FROM names (node:24-bookworm-slim) locally, once: no
# container registry is reachable here. Debian bookworm (debootstrap minbase) + the Node binary
# of the repository's pinned `node` devDependency (npm package node-linux-<arch>) + npm, laid out
# as the official image does (/usr/local/bin/node, /usr/local/lib/node_modules/npm). The root
# file system is cached as a tarball keyed by versions; `podman import` names it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/image/podman.sh

BASE_NAME="docker.io/library/node:24-bookworm-slim"
NODE_VERSION="$(node -p 'require("./package-lock.json").packages["node_modules/node"].version')"
NPM_VERSION="11.21.3"
SUITE="bookworm"
case "$(uname -m)" in x86_64) ARCH=x64 DEB_ARCH=amd64 ;; aarch64) ARCH=arm64 DEB_ARCH=arm64 ;; *) echo "unsupported $(uname -m)" >&2; exit 1 ;; esac
TAR="$STRONGROOM_CACHE/base-$SUITE-node$NODE_VERSION-npm$NPM_VERSION-$DEB_ARCH.tar"

if [ ! -f "$TAR" ]; then
  echo "base: making $TAR (once)" >&2
  work="$(mktemp -d "$STRONGROOM_CACHE/base.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  debootstrap --variant=minbase --arch="$DEB_ARCH" "$SUITE" "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # As the official slim images: no apt lists, caches, docs or man pages.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  (cd "$work" && npm pack --silent "node-linux-$ARCH@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/node-linux-$ARCH-$NODE_VERSION.tgz" -C "$work/node"
  install -m 0755 "$work/node/package/bin/node" "$root/usr/local/bin/node"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$root" /usr/local/bin/node --version >/dev/null
  tar --numeric-owner -C "$root" -cf "$TAR.partial" .
  mv "$TAR.partial" "$TAR"
fi

if ! pm image exists "$BASE_NAME"; then
  echo "base: importing $TAR as $BASE_NAME" >&2
  pm import -q --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]' "$TAR" "$BASE_NAME" >/dev/null
fi
echo "$BASE_NAME"
