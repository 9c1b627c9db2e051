#!/usr/bin/env bash
# Kernel settings Berth's promises depend on, for the machine that runs Caddy (and the tests).
# net.ipv4.tcp_migrate_req=1 (Linux 5.14+): when Caddy loads a new route table it opens a new
# SO_REUSEPORT socket and closes the old one; with this on, connections waiting in the old socket's
# accept queue move to the new one instead of being reset (docs/adr/0008-zero-downtime-handover.md).
set -euo pipefail
key=net.ipv4.tcp_migrate_req
if [ ! -e /proc/sys/net/ipv4/tcp_migrate_req ]; then
  echo "$key is not available on this kernel ($(uname -r)); route changes may reset arriving connections" >&2
  exit 0
fi
if [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req)" != 1 ]; then
  sysctl -qw "$key=1"
  echo "set $key=1"
fi
# Kept across reboots where the machine reads /etc/sysctl.d.
if [ -d /etc/sysctl.d ] && [ -w /etc/sysctl.d ]; then
  echo "$key = 1" > /etc/sysctl.d/60-berth.conf
fi
