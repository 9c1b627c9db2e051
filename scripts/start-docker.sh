#!/usr/bin/env bash
# Starts dockerd in the background unless an engine already answers; waits for its socket.
set -euo pipefail
if docker version >/dev/null 2>&1; then exit 0; fi
mkdir -p /var/log
nohup dockerd >/var/log/berth-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker version >/dev/null 2>&1; then echo "docker engine is up"; exit 0; fi
  sleep 1
done
echo "dockerd did not start; its log:" >&2
tail -50 /var/log/berth-dockerd.log >&2
exit 1
