#!/usr/bin/env bash
# Make podman (a peer the tests compare with) work on machines like CI's: no systemd, cgroup v1
# with a v2 mount, root without CAP_SYS_RESOURCE.  Idempotent; run as root.
#  1. crun refuses "hybrid" cgroups while the v2 tree still owns a controller: bind each such
#     controller to its own v1 hierarchy, as systemd would.
#  2. podman asks for nofile=1048576, which nothing here may raise: pin its defaults to the hard
#     limits we have.
# cbuild itself needs neither fix.
set -eu
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ -r /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    mkdir -p "/sys/fs/cgroup/$c"
    mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  done
fi
mkdir -p /etc/containers/containers.conf.d
hn=$(ulimit -Hn); hu=$(ulimit -Hu)
[ "$hu" = unlimited ] && hu=32768
[ "$hu" -gt 32768 ] && hu=32768
cat > /etc/containers/containers.conf.d/90-cbuild-limits.conf <<EOT
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=$hu:$hu"]
EOT
