#!/usr/bin/env bash
# Start a throwaway ClickHouse server on 127.0.0.1 (native port 9000 by default) for tests and
# benchmarks: installs Debian's clickhouse-server if missing, copies its config with the data and
# log paths pointed at a temp directory, starts the server in the background and waits until it
# answers. Prints `CLICKHOUSE_URL=...` and `CLICKHOUSE_PID=...` on success.
#
#   eval "$(scripts/start-clickhouse.sh)"      # exports CLICKHOUSE_URL and CLICKHOUSE_PID
#   kill "$CLICKHOUSE_PID"                     # when done
#
# Environment: CLICKHOUSE_PORT (9000), CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_DIR (mktemp -d),
# CLICKHOUSE_DATABASE (bxb_test).
set -euo pipefail

PORT="${CLICKHOUSE_PORT:-9000}"
HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
DATABASE="${CLICKHOUSE_DATABASE:-bxb_test}"

if ! command -v clickhouse-server >/dev/null 2>&1; then
    echo "installing clickhouse-server..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y clickhouse-server clickhouse-client >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y clickhouse-server clickhouse-client >/dev/null 2>&1; }
fi

# A server already answering on the port (an earlier run on this machine) is reused.
if command -v clickhouse-client >/dev/null 2>&1 \
    && clickhouse-client --host 127.0.0.1 --port "$PORT" --query "SELECT 1" >/dev/null 2>&1; then
    echo "export CLICKHOUSE_URL=clickhouse://default@127.0.0.1:$PORT/$DATABASE"
    exit 0
fi

DIR="${CLICKHOUSE_DIR:-$(mktemp -d /tmp/bxb-clickhouse.XXXXXX)}"
mkdir -p "$DIR/data/tmp" "$DIR/data/user_files" "$DIR/data/format_schemas" "$DIR/log"
CONFIG="$DIR/config.xml"
sed -e "s#/var/lib/clickhouse/#$DIR/data/#g" \
    -e "s#/var/log/clickhouse-server/#$DIR/log/#g" \
    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$PORT</tcp_port>#" \
    -e "s#<http_port>8123</http_port>#<http_port>$HTTP_PORT</http_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>##" \
    -e "s#<listen_host>::1</listen_host>##" \
    /etc/clickhouse-server/config.xml > "$CONFIG"
cp /etc/clickhouse-server/users.xml "$DIR/users.xml"
if id clickhouse >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    chown -R clickhouse: "$DIR"
fi

# Started as a plain background command so that $! is the server's own PID.
clickhouse-server --config-file="$CONFIG" >"$DIR/log/stdout.log" 2>&1 &
PID=$!

for _ in $(seq 1 100); do
    if clickhouse-client --host 127.0.0.1 --port "$PORT" --query "SELECT 1" >/dev/null 2>&1; then
        clickhouse-client --host 127.0.0.1 --port "$PORT" --query "CREATE DATABASE IF NOT EXISTS $DATABASE"
        echo "export CLICKHOUSE_URL=clickhouse://default@127.0.0.1:$PORT/$DATABASE"
        echo "export CLICKHOUSE_PID=$PID"
        echo "export CLICKHOUSE_DIR=$DIR"
        exit 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "clickhouse-server exited; see $DIR/log" >&2
        tail -20 "$DIR/log/"*.log >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "clickhouse-server did not answer on 127.0.0.1:$PORT" >&2
kill "$PID" 2>/dev/null || true
exit 1
