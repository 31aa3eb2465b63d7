#!/usr/bin/env bash
# Start the Docker engine if it is not answering: systemd when it runs, else dockerd in the background
# (CI and build containers have no systemd). Waits until it answers.
set -euo pipefail
docker info >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then echo "the Docker engine is not running; start it as root: systemctl start docker" >&2; exit 1; fi
if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done
echo "dockerd did not start; see /var/log/dockerd.log" >&2
exit 1
