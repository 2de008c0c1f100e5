# shellcheck shell=bash
# Sourced by test/image/*.sh: podman as it runs on these machines (root, no Docker engine, no
# registry). Storage, run state and configuration live under ~/.cache/strongroom/podman so the
# host's own containers setup is untouched.
STRONGROOM_CACHE="${STRONGROOM_CACHE:-$HOME/.cache/strongroom}"
PODMAN_HOME="$STRONGROOM_CACHE/podman"
mkdir -p "$PODMAN_HOME/storage" "$PODMAN_HOME/run" "$PODMAN_HOME/tmp"
if [ ! -f "$PODMAN_HOME/containers.conf" ]; then
  cat >"$PODMAN_HOME/containers.conf" <<'CONF'
[containers]
# The defaults (nofile 1048576) exceed this sandbox's limits.
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
CONF
fi
export CONTAINERS_CONF="$PODMAN_HOME/containers.conf"
export TMPDIR="$PODMAN_HOME/tmp"

for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null || { echo "test:image needs $tool (apt-get install podman buildah runc debootstrap)" >&2; exit 1; }
done

# Storage driver: overlay when this kernel lets root mount one (no copy of the whole root file
# system per build step and container), else vfs, which works everywhere. STRONGROOM_PODMAN_DRIVER
# chooses. Each driver keeps its own storage.
probe_overlay() {
  local d; d="$(mktemp -d "$PODMAN_HOME/tmp/ovl.XXXXXX")"; mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    umount "$d/m"; rm -rf "$d"; return 0
  fi
  rm -rf "$d"; return 1
}
if [ -z "${STRONGROOM_PODMAN_DRIVER:-}" ]; then
  if probe_overlay; then STRONGROOM_PODMAN_DRIVER=overlay; else STRONGROOM_PODMAN_DRIVER=vfs; fi
fi
export STRONGROOM_PODMAN_DRIVER
PM=(podman --root "$PODMAN_HOME/storage/$STRONGROOM_PODMAN_DRIVER" --runroot "$PODMAN_HOME/run/$STRONGROOM_PODMAN_DRIVER"
  --storage-driver "$STRONGROOM_PODMAN_DRIVER" --runtime runc --cgroup-manager cgroupfs)
pm() { "${PM[@]}" "$@"; }
