#!/usr/bin/env bash
# Makes sure what the tests need is there on a fresh machine, or says exactly
# what is missing: Redis answering at REDIS_URL (started when the binary is
# installed) and Chromium for the browser tests (Debian package, as root).
set -euo pipefail

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

redis_ping() {
  node -e '
    const net = require("node:net");
    const u = new URL(process.argv[1]);
    const s = net.connect(Number(u.port || 6379), u.hostname || "127.0.0.1");
    const t = setTimeout(() => process.exit(1), 1000);
    s.on("connect", () => s.write(u.password ? `AUTH ${decodeURIComponent(u.username || "default")} ${decodeURIComponent(u.password)}\r\nPING\r\n` : "PING\r\n"));
    s.on("data", (d) => { if (String(d).includes("PONG")) { clearTimeout(t); s.destroy(); process.exit(0); } });
    s.on("error", () => process.exit(1));
  ' "$REDIS_URL"
}

if ! redis_ping; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "pretest: Redis is not answering at $REDIS_URL; starting a local redis-server (no persistence)"
    mkdir -p /tmp/anon-redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /tmp/anon-redis --logfile /tmp/anon-redis/redis.log
    for _ in $(seq 1 50); do redis_ping && break; sleep 0.1; done
  fi
  if ! redis_ping; then
    echo "pretest: Redis is required at $REDIS_URL and is not answering." >&2
    echo "  install it:  apt-get install -y redis-server   (then re-run npm test)" >&2
    echo "  or point REDIS_URL at a running Redis 7." >&2
    exit 1
  fi
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
echo "pretest: Redis answers at $REDIS_URL; Chromium at $CHROMIUM"
