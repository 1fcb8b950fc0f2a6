#!/usr/bin/env bash
# Prepare the test services: PostgreSQL and Redis on loopback, and the project's own database.
# Starts a service that is installed but down, installs one that is missing (Debian/Ubuntu),
# and exits non-zero when either still cannot be reached: the tests must fail, never skip.
set -euo pipefail

DB_NAME="${LONGTUAN_TEST_DB:-longtuan_test}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

install_missing() {
  local pkgs=()
  command -v pg_ctlcluster >/dev/null 2>&1 || pkgs+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "services: installing ${pkgs[*]}"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${pkgs[@]}"
  fi
}

if ! pg_up || ! redis_up; then
  install_missing
fi

if ! pg_up; then
  echo "services: starting PostgreSQL"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
if ! redis_up; then
  echo "services: starting Redis"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi

pg_up || { echo "services: PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "services: Redis is not reachable at 127.0.0.1:6379" >&2; exit 1; }

if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='${DB_NAME}'" | grep -q 1; then
  createdb -h 127.0.0.1 -U postgres "${DB_NAME}"
  echo "services: created database ${DB_NAME}"
fi
echo "services: PostgreSQL and Redis are up; test database ${DB_NAME}"
