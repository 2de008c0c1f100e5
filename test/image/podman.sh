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

pm() {
  podman --root "$PODMAN_HOME/storage" --runroot "$PODMAN_HOME/run" --storage-driver vfs \
    --runtime runc --cgroup-manager cgroupfs "$@"
}
