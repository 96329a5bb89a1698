#!/usr/bin/env bash
# A real Apache Kafka 4.x on loopback, without Docker: one JVM that is both broker and KRaft
# controller, run from the jars that deploy/kafka/pom.xml lists (fetched from Maven Central).
#
# usage: deploy/kafka/kafka.sh COMMAND
#   fetch    download the jars into deploy/kafka/lib (skipped when lib/ matches pom.xml)
#   up       fetch if needed, format storage on first use, start in the background, wait until
#            the broker answers (at most KAFKA_READY_TIMEOUT s), print where it listens
#   down     stop cleanly (SIGTERM), wait KAFKA_STOP_TIMEOUT s, then SIGKILL
#   kill     SIGKILL at once, leaving the data as a crash would (for crash tests)
#   wipe     down, then delete the data dir
#   status   exit 0 if running and ready, 1 if running but not ready, 3 if not running
#   logs [N] the last N (default 50) lines of the broker log
#
# environment (all optional):
#   KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  controller listener on 127.0.0.1 (default KAFKA_PORT+1)
#   KAFKA_DATA_DIR         config, data, logs and pid file (default <repo>/var/kafka)
#   KAFKA_HEAP_OPTS        default "-Xms64m -Xmx512m"
#   KAFKA_JVM_OPTS         extra JVM flags
#   KAFKA_READY_TIMEOUT    seconds `up` waits for the broker (default 60)
#   KAFKA_STOP_TIMEOUT     seconds `down` waits before SIGKILL (default 30)
#   KAFKA_EXTRA_CONFIG     a .properties file appended to the generated server.properties, with
#                          the same @KAFKA_...@ placeholders as the template; a key it repeats
#                          wins, so it can add listeners (SASL, TLS) beside PLAINTEXT
#   KAFKA_FORMAT_ARGS      extra arguments for the first `StorageTool format` of the data dir,
#                          split on whitespace, e.g. SCRAM users:
#                          --add-scram SCRAM-SHA-256=[name=alice,password=alice-secret]
#   JAVA_HOME / JAVA, MVN, PYTHON   the tools to use (java 17+, mvn, python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
LIB="$HERE/lib"
M2="$HERE/.m2"
POM="$HERE/pom.xml"
TEMPLATE="$HERE/server.properties.template"
STAMP="$LIB/.fetched"

KAFKA_PORT="${KAFKA_PORT:-9092}"
if [[ -z "${KAFKA_CONTROLLER_PORT:-}" && "$KAFKA_PORT" =~ ^[0-9]+$ ]]; then
    KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
fi
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/var/kafka}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:-}"
KAFKA_FORMAT_ARGS="${KAFKA_FORMAT_ARGS:-}"
if [[ -n "${JAVA_HOME:-}" && -z "${JAVA:-}" ]]; then
    JAVA="$JAVA_HOME/bin/java"
fi
JAVA="${JAVA:-java}"
MVN="${MVN:-mvn}"
PYTHON="${PYTHON:-python3}"

# Relative data dirs are relative to the caller's working directory.
if [[ "$KAFKA_DATA_DIR" != /* ]]; then
    KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR"
fi
DATA="$KAFKA_DATA_DIR"
CONFIG="$DATA/server.properties"
LOG4J_CONFIG="$DATA/log4j2.properties"
LOG_DIRS="$DATA/data"
LOGS="$DATA/logs"
PIDFILE="$DATA/kafka.pid"
MARKER="$DATA/.signalfire-kafka"

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"
}

check_settings() {
    local name value
    for name in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_READY_TIMEOUT KAFKA_STOP_TIMEOUT; do
        value="${!name}"
        [[ "$value" =~ ^[0-9]+$ ]] || die "$name must be a number, got '$value'"
    done
    ((KAFKA_PORT > 0 && KAFKA_PORT < 65536)) || die "KAFKA_PORT out of range: $KAFKA_PORT"
    ((KAFKA_CONTROLLER_PORT > 0 && KAFKA_CONTROLLER_PORT < 65536)) ||
        die "KAFKA_CONTROLLER_PORT out of range: $KAFKA_CONTROLLER_PORT"
    ((KAFKA_PORT != KAFKA_CONTROLLER_PORT)) || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT are equal"
    # log.dirs is a comma-separated list in a .properties file.
    [[ "$DATA" != *[,\\$'\n']* ]] || die "KAFKA_DATA_DIR must not contain ',', '\\' or newlines: $DATA"
    [[ -z "$KAFKA_EXTRA_CONFIG" || -r "$KAFKA_EXTRA_CONFIG" ]] ||
        die "KAFKA_EXTRA_CONFIG is not a readable file: $KAFKA_EXTRA_CONFIG"
}

kafka_version() {
    local jar
    for jar in "$LIB"/kafka_2.13-*.jar; do
        [[ -e "$jar" ]] || continue
        jar="${jar##*/kafka_2.13-}"
        echo "${jar%.jar}"
        return 0
    done
    echo "unknown"
}

# ---------------------------------------------------------------------------------------------
# fetch

pom_digest() {
    sha256sum "$POM" | cut -d' ' -f1
}

lib_complete() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_digest)" ]] &&
        compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null
}

cmd_fetch() {
    if lib_complete; then
        echo "kafka.sh: jars up to date in $LIB"
        return 0
    fi
    need "$MVN" "Maven 3.8+ fetches the Kafka jars"
    mkdir -p "$M2"
    # One fetch at a time (two test sessions may start together).
    exec 9>"$M2/.fetch.lock"
    flock 9
    if lib_complete; then
        exec 9>&-
        echo "kafka.sh: jars up to date in $LIB"
        return 0
    fi
    local tmp="$M2/.lib.$$"
    rm -rf "$tmp"
    echo "kafka.sh: fetching Kafka jars with Maven into $LIB ..."
    # mvn's output goes to a log shown only on failure (Maven 3.8 prints stray ANSI resets even
    # with -q and -B; its [ERROR] lines go to stdout).
    if ! "$MVN" -B -q -Dstyle.color=never -f "$POM" -Dmaven.repo.local="$M2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$M2/fetch.log" 2>&1; then
        rm -rf "$tmp"
        sed 's/\x1b\[[0-9;]*m//g' "$M2/fetch.log" >&2
        die "mvn could not fetch the jars listed in $POM (log: $M2/fetch.log)"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "mvn ran but no kafka_2.13 jar in $tmp"
    rm -rf "$LIB"
    mv "$tmp" "$LIB"
    pom_digest >"$STAMP"
    exec 9>&-
    echo "kafka.sh: $(find "$LIB" -name '*.jar' | wc -l) jars in $LIB (Kafka $(kafka_version))"
}

# ---------------------------------------------------------------------------------------------
# the broker process

# The pid in $PIDFILE, if that process is alive and is our broker for this data dir.
running_pid() {
    local pid cmdline
    [[ -f "$PIDFILE" ]] || return 1
    pid="$(cat "$PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *kafka.Kafka*"$CONFIG"* ]] || return 1
    echo "$pid"
}

# probe MODE PORT: "ready" = the broker answers a Metadata request listing at least one live
# broker (so topics can be created); "open" = something accepts TCP connections on PORT.
probe() {
    "$PYTHON" - "$1" "$2" <<'PY'
import socket
import struct
import sys

mode, port = sys.argv[1], int(sys.argv[2])


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"kafka.sh"
    msg = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    data = recv_exact(sock, size)
    if struct.unpack_from(">i", data)[0] != corr:
        raise ValueError("correlation id mismatch")
    return data[4:]


try:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        if mode == "open":
            sys.exit(0)
        # ApiVersions v0: which Metadata versions does the broker speak?
        resp = call(sock, 18, 0, 1, b"")
        (error,) = struct.unpack_from(">h", resp)
        if error != 0:
            sys.exit(1)
        (count,) = struct.unpack_from(">i", resp, 2)
        versions = {}
        for i in range(count):
            key, low, high = struct.unpack_from(">hhh", resp, 6 + 6 * i)
            versions[key] = (low, high)
        low, high = versions.get(3, (0, -1))
        if not low <= 4 <= high:
            sys.exit(0)  # Metadata v4 is gone: answering ApiVersions has to do.
        # Metadata v4, all topics (null array), no auto-creation.
        resp = call(sock, 3, 4, 2, struct.pack(">ib", -1, 0))
        (brokers,) = struct.unpack_from(">i", resp, 4)  # after throttle_time_ms
        sys.exit(0 if brokers >= 1 else 1)
except (OSError, ValueError, struct.error):
    sys.exit(1)
PY
}

log_tail() {
    local lines="${1:-50}" file
    for file in "$LOGS/format.log" "$LOGS/kafka.out" "$LOGS/server.log"; do
        if [[ -s "$file" ]]; then
            echo "--- last $lines lines of $file"
            tail -n "$lines" "$file"
        fi
    done
}

substitute() {
    local text
    text="$(cat "$1")"
    text="${text//@KAFKA_PORT@/"$KAFKA_PORT"}"
    text="${text//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}"
    text="${text//@KAFKA_LOG_DIRS@/"$LOG_DIRS"}"
    printf '%s\n' "$text"
}

render_config() {
    # The extra file may hold key store passwords: the rendered config is for the broker only.
    (
        umask 077
        substitute "$TEMPLATE" >"$CONFIG"
        if [[ -n "$KAFKA_EXTRA_CONFIG" ]]; then
            printf '\n# --- appended from KAFKA_EXTRA_CONFIG=%s\n' "$KAFKA_EXTRA_CONFIG" >>"$CONFIG"
            substitute "$KAFKA_EXTRA_CONFIG" >>"$CONFIG"
        fi
    )

    cat >"$LOG4J_CONFIG" <<'EOF'
# Generated by deploy/kafka/kafka.sh: broker log under ${sys:kafka.logs.dir}, rolled at 20 MB.
status = warn
name = signalfire-local-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

java_cmd() {
    local -a heap jvm
    read -r -a heap <<<"$KAFKA_HEAP_OPTS"
    read -r -a jvm <<<"$KAFKA_JVM_OPTS"
    printf '%s\0' "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true "${jvm[@]}" \
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG" "-Dkafka.logs.dir=$LOGS" \
        -cp "$LIB/*" "$@"
}

run_java() {
    local -a cmd
    mapfile -d '' -t cmd < <(java_cmd "$@")
    "${cmd[@]}"
}

format_storage() {
    [[ -f "$LOG_DIRS/meta.properties" ]] && return 0
    local cluster_id
    if [[ -s "$DATA/cluster.id" ]]; then
        cluster_id="$(cat "$DATA/cluster.id")"
    else
        if ! cluster_id="$(run_java kafka.tools.StorageTool random-uuid 2>>"$LOGS/format.log")" ||
            [[ ! "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]]; then
            printf '%s\n' "$cluster_id" >>"$LOGS/format.log"
            log_tail 40 >&2
            die "java could not run Kafka's StorageTool (logs in $LOGS)"
        fi
        echo "$cluster_id" >"$DATA/cluster.id"
    fi
    echo "kafka.sh: formatting $LOG_DIRS (cluster id $cluster_id)"
    local -a extra
    read -r -a extra <<<"$KAFKA_FORMAT_ARGS"
    if ! run_java kafka.tools.StorageTool format --config "$CONFIG" \
        --cluster-id "$cluster_id" --ignore-formatted "${extra[@]}" >>"$LOGS/format.log" 2>&1; then
        cat "$LOGS/format.log" >&2
        die "formatting the storage in $LOG_DIRS failed"
    fi
}

cmd_up() {
    check_settings
    local pid
    if pid="$(running_pid)"; then
        echo "kafka.sh: already running (pid $pid) on 127.0.0.1:$KAFKA_PORT, data in $DATA"
        return 0
    fi
    need "$JAVA" "Kafka needs Java 17+"
    need "$PYTHON" "the readiness check uses python3"
    lib_complete || cmd_fetch
    if probe open "$KAFKA_PORT"; then
        die "127.0.0.1:$KAFKA_PORT is already in use by another process (set KAFKA_PORT)"
    fi
    if probe open "$KAFKA_CONTROLLER_PORT"; then
        die "127.0.0.1:$KAFKA_CONTROLLER_PORT is already in use (set KAFKA_CONTROLLER_PORT)"
    fi

    mkdir -p "$DATA" "$LOGS" "$LOG_DIRS"
    touch "$MARKER"
    rm -f "$PIDFILE"
    render_config
    format_storage

    local started now
    started="$(date +%s%N)"
    local -a cmd
    mapfile -d '' -t cmd < <(java_cmd kafka.Kafka "$CONFIG")
    echo "=== $(date -Is) starting Kafka $(kafka_version)" >>"$LOGS/kafka.out"
    nohup "${cmd[@]}" >>"$LOGS/kafka.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"

    local deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
    until probe ready "$KAFKA_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log_tail 40 >&2
            die "Kafka exited during startup (logs in $LOGS)"
        fi
        if ((SECONDS >= deadline)); then
            log_tail 40 >&2
            cmd_down >&2 || true
            die "Kafka was not ready after ${KAFKA_READY_TIMEOUT}s (logs in $LOGS)"
        fi
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null || die "Kafka exited right after answering (logs in $LOGS)"
    now="$(date +%s%N)"
    printf 'kafka.sh: Kafka %s ready in %d.%03ds: bootstrap 127.0.0.1:%s (controller 127.0.0.1:%s), pid %s, data %s, logs %s\n' \
        "$(kafka_version)" $(((now - started) / 1000000000)) $((((now - started) / 1000000) % 1000)) \
        "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$pid" "$DATA" "$LOGS"
}

wait_gone() {
    local pid="$1" timeout="$2"
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

cmd_down() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PIDFILE"
        echo "kafka.sh: not running (data dir $DATA)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    if wait_gone "$pid" "$KAFKA_STOP_TIMEOUT"; then
        echo "kafka.sh: stopped (pid $pid)"
    else
        echo "kafka.sh: still running after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL to $pid" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
    fi
    rm -f "$PIDFILE"
}

cmd_kill() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "kafka.sh: not running (data dir $DATA)"
        return 0
    fi
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
    echo "kafka.sh: killed (pid $pid); data left as a crash leaves it"
}

cmd_wipe() {
    cmd_down
    [[ -e "$DATA" ]] || return 0
    # Only delete what `up` created.
    if [[ ! -f "$MARKER" ]] && [[ -n "$(ls -A "$DATA")" ]]; then
        die "$DATA does not look like a kafka.sh data dir (no $MARKER); not deleting it"
    fi
    rm -rf "$DATA"
    echo "kafka.sh: deleted $DATA"
}

cmd_status() {
    check_settings
    local pid
    if ! pid="$(running_pid)"; then
        echo "kafka.sh: not running (data dir $DATA)"
        return 3
    fi
    if probe ready "$KAFKA_PORT"; then
        echo "kafka.sh: running and ready: Kafka $(kafka_version), bootstrap 127.0.0.1:$KAFKA_PORT, pid $pid, data $DATA"
        return 0
    fi
    echo "kafka.sh: running (pid $pid) but not answering on 127.0.0.1:$KAFKA_PORT"
    return 1
}

main() {
    local command="${1:-}"
    shift || true
    case "$command" in
        fetch) cmd_fetch ;;
        up | start) cmd_up ;;
        down | stop) cmd_down ;;
        kill) cmd_kill ;;
        wipe) cmd_wipe ;;
        status) cmd_status ;;
        logs) log_tail "${1:-50}" ;;
        *)
            sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
            exit 2
            ;;
    esac
}

main "$@"
