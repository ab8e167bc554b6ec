#!/usr/bin/env bash
# Makes sure what the tests need is there on a fresh machine, or says exactly
# what is missing:
# - Redis answering at REDIS_URL. When it does not answer and REDIS_URL names
#   this machine (127.0.0.1, localhost, ::1), a throwaway redis-server (no
#   persistence) is started on REDIS_URL's port; the binary comes from the
#   Debian package 'redis-server', installed here when running as root with
#   apt-get. A Redis on another host is never started from here.
# - redis-server and redis-cli binaries for the Redis Cluster test, which
#   starts its own three-node cluster on loopback ports
#   (test/redis-cluster.integration.test.ts): Debian packages 'redis-server'
#   and 'redis-tools' (redis-cli), installed here as root with apt-get.
# - Chromium for the browser tests (Debian package 'chromium', as root).
set -euo pipefail

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
# REDIS_URL as printed: a password in it is masked.
REDIS_SHOWN="$(printf '%s' "$REDIS_URL" | sed -E 's#(://[^:/@]*:)[^@/]*@#\1***@#')"

redis_ping() {
  node -e '
    const net = require("node:net");
    const u = new URL(process.argv[1]);
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
    const s = net.connect(Number(u.port || 6379), host);
    const t = setTimeout(() => process.exit(1), 1000);
    s.on("connect", () => s.write(u.password ? `AUTH ${decodeURIComponent(u.username || "default")} ${decodeURIComponent(u.password)}\r\nPING\r\n` : "PING\r\n"));
    s.on("data", (d) => { if (String(d).includes("PONG")) { clearTimeout(t); s.destroy(); process.exit(0); } });
    s.on("error", () => process.exit(1));
  ' "$REDIS_URL"
}

# REDIS_URL's parts, separated by \x1f (tabs would merge empty fields): scheme, host (no brackets), port, user, password (decoded).
redis_url_parts() {
  node -e '
    const u = new URL(process.argv[1]);
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    console.log([u.protocol.replace(/:$/, ""), host, u.port || "6379", decodeURIComponent(u.username), decodeURIComponent(u.password)].join("\x1f"));
  ' "$REDIS_URL"
}

redis_missing() {
  echo "pretest: Redis is required at $REDIS_SHOWN and is not answering." >&2
  for line in "$@"; do echo "  $line" >&2; done
  echo "  or point REDIS_URL at a running Redis 7 (maxmemory-policy noeviction)." >&2
  exit 1
}

if ! redis_ping; then
  IFS=$'\x1f' read -r scheme host port user password < <(redis_url_parts) || redis_missing "REDIS_URL is not a valid URL."
  case "$host" in
    127.0.0.1 | localhost | ::1) ;;
    *) redis_missing "It is on another host ($host): start Redis there; this script starts one only for 127.0.0.1, localhost or ::1." ;;
  esac
  [ "$scheme" = "redis" ] || redis_missing "REDIS_URL uses $scheme://; this script can only start a plain redis:// server."
  if [ -n "$user" ] && [ "$user" != "default" ]; then
    redis_missing "REDIS_URL names the ACL user '$user'; this script can only start a server for the default user."
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "pretest: installing Redis for the tests (Debian package 'redis-server')"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null || true
      # Its service may not start in a container without init; only the binary is needed here.
      apt-get install -y -qq redis-server >/dev/null || true
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
      if [ "$(id -u)" = "0" ]; then
        redis_missing "install it:  apt-get install -y redis-server   (Debian package; then re-run npm test)"
      else
        redis_missing "install it:  sudo apt-get install -y redis-server   (Debian package; then re-run npm test)"
      fi
    fi
  fi

  dir="/tmp/anon-redis-$port"
  echo "pretest: Redis is not answering at $REDIS_SHOWN; starting a local redis-server on port $port (no persistence, log in $dir/redis.log)"
  mkdir -p "$dir"
  # Loopback only, both families ('-' makes ::1 optional where IPv6 is off).
  args=(--daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no --maxmemory-policy noeviction --dir "$dir" --logfile "$dir/redis.log")
  if [ -n "$password" ]; then args+=(--requirepass "$password"); fi
  redis-server "${args[@]}" || true
  for _ in $(seq 1 50); do redis_ping && break; sleep 0.1; done
  redis_ping || redis_missing "redis-server did not come up on port $port: see $dir/redis.log (is the port taken by something else?)"
fi

# The Redis Cluster test runs its own nodes: `redis-server --cluster-enabled yes` and `redis-cli --cluster create`
# (Redis 5 or later), whatever REDIS_URL points at.
cluster_tools_missing() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=("redis-server (Debian package redis-server)")
  command -v redis-cli >/dev/null 2>&1 || missing+=("redis-cli (Debian package redis-tools)")
  printf '%s\n' "${missing[@]}"
}
if [ -n "$(cluster_tools_missing)" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing redis-server and redis-cli for the Redis Cluster test (Debian packages 'redis-server', 'redis-tools')"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq redis-server redis-tools >/dev/null || true
fi
missing="$(cluster_tools_missing)"
if [ -n "$missing" ]; then
  echo "pretest: the Redis Cluster test (test/redis-cluster.integration.test.ts) starts its own cluster on loopback and needs:" >&2
  printf '%s\n' "$missing" | sed 's/^/  missing: /' >&2
  echo "  install them:  sudo apt-get install -y redis-server redis-tools   (Debian packages; then re-run npm test)" >&2
  exit 1
fi
redis_major="$(redis-cli --version | sed -E 's/^redis-cli ([0-9]+).*/\1/')"
if ! [ "$redis_major" -ge 5 ] 2>/dev/null; then
  echo "pretest: the Redis Cluster test needs redis-cli 5 or later for --cluster create; found: $(redis-cli --version)" >&2
  exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "pretest: installing Chromium for the browser tests (Debian package 'chromium')"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x "$CHROMIUM" ]; then
    echo "pretest: Chromium is required for the browser tests and was not found at $CHROMIUM." >&2
    echo "  install it:  sudo apt-get install -y chromium   (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
fi
echo "pretest: Redis answers at $REDIS_SHOWN; redis-server and redis-cli $(redis-cli --version | cut -d' ' -f2) for the cluster test; Chromium at $CHROMIUM"
