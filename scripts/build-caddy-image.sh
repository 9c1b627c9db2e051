#!/usr/bin/env bash
# Builds the image `berth serve --caddy-managed` runs (default tag berth/caddy:2.6) from Debian's
# caddy package, without a registry: the packaged /usr/bin/caddy, the shared libraries it links
# (ldd), the CA bundle (for Let's Encrypt's API) and a Caddyfile that only sets the admin address
# from $BERTH_CADDY_ADMIN_LISTEN. `docker import` turns the directory into an image (a few
# seconds, ~45 MB). A full `debootstrap --include=caddy` root works the same way but takes a minute.
set -euo pipefail
IMAGE="${1:-berth/caddy:2.6}"
if ! command -v caddy >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy ca-certificates >/dev/null
fi
CADDY="$(command -v caddy)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/etc/caddy" "$root/etc/ssl/certs" "$root/data" "$root/config" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$CADDY" "$root/usr/bin/caddy"
for lib in $(ldd "$CADDY" | grep -o '/[^ )]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
cat >"$root/etc/caddy/Caddyfile" <<'CADDYFILE'
# Berth loads every route through the admin API (POST /load); this only says where that listens.
{
	admin {$BERTH_CADDY_ADMIN_LISTEN:127.0.0.1:2019}
}
CADDYFILE
version="$("$CADDY" version | awk '{print $1}')"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/bin XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config' \
  --change 'CMD ["caddy", "run", "--adapter", "caddyfile", "--config", "/etc/caddy/Caddyfile"]' \
  --change "LABEL org.opencontainers.image.version=$version org.opencontainers.image.source=debian:caddy" \
  - "$IMAGE" >/dev/null
echo "built $IMAGE (caddy $version)"
