#!/usr/bin/env bash
# Installs the system parts the test suite drives for real (DESIGN §3): the Docker engine from
# Debian's docker.io, busybox-static and debootstrap for the test images. Postgres 15 and kubectl come with
# the machine; embedded Postgres comes from npm.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
# debootstrap builds the database engine test images (test/helpers/engine-images.ts).
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
# Domains: a real Caddy for routing and TLS, and pebble as the ACME CA it gets certificates from.
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v pebble >/dev/null 2>&1 || need+=(pebble)
# The web dashboard's browser tests (test/ui.test.ts) drive Debian's chromium with playwright-core.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Private registries (test/registry.test.ts): a real registry (distribution 2.8) with htpasswd auth.
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
# The multi-node swarm harness (test/helpers/swarm-nodes.ts): network namespaces, veths, a bridge.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
