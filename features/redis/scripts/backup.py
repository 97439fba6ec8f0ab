"""Scheduled RDB snapshot of a Redis group to Cloud Storage (docs/redis.md, "Backups").

Runs as the `backup` container of every pod of a primary region's group. Each check it asks
its own redis (localhost: no mesh hop) whether this pod takes the group's snapshots: a replica
whose link to the master is up and in sync, with the lowest ordinal that is not the master's
(pod 0, or pod 1 while pod 0 is the master), so one pod uploads per interval and the master is
never loaded. When the last success it recorded is older than the interval, it takes an RDB
with SYNC (what `redis-cli --rdb` does) onto the data volume, uploads it to Cloud Storage with a
token of the pod's Workload Identity, and records the success only once Cloud Storage reports
an object of the same size and MD5. Metrics (meridian_redis_backup_*) on BACKUP_METRICS_PORT.

Standard library only: the pinned python image has no other package.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

ENV = os.environ
PASSWORD = ENV["REDIS_PASSWORD"]
POD = ENV["POD_NAME"]
STATEFULSET = ENV["STATEFULSET"]
BUCKET = ENV["BACKUP_BUCKET"]
PREFIX = ENV["BACKUP_PREFIX"]
INTERVAL = int(ENV["BACKUP_INTERVAL_SECONDS"])
RETRY = int(ENV["BACKUP_RETRY_SECONDS"])
CHECK = int(ENV["BACKUP_CHECK_SECONDS"])
DIR = ENV["BACKUP_DIR"]
METRICS_PORT = int(ENV["BACKUP_METRICS_PORT"])
# The pod's own redis; LISTEN_ADDR is the test harness' one concession (several pods on one host).
REDIS_HOST = ENV.get("LISTEN_ADDR") or "127.0.0.1"
REDIS_PORT = 6379
# The overrides Google's client libraries read: unset in the manifests.
METADATA = ENV.get("GCE_METADATA_HOST") or "metadata.google.internal"
STORAGE = ENV.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com"
STATE = os.path.join(DIR, "state.json")
SNAPSHOT = os.path.join(DIR, "snapshot.rdb")
TIMEOUT = 60
BLOCK = 1 << 20


def log(msg):
    print(f"meridian-redis-backup {POD}: {msg}", flush=True)


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Redis (RESP over a socket)


class Redis:
    def __init__(self):
        self.sock = socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=TIMEOUT)
        self.buf = b""
        self.call("AUTH", PASSWORD)

    def close(self):
        self.sock.close()

    def send(self, *args):
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a.encode() if isinstance(a, str) else a
            parts.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
        self.sock.sendall(b"".join(parts))

    def fill(self):
        chunk = self.sock.recv(BLOCK)
        if not chunk:
            raise Failure("redis closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise Failure(f"redis: {rest.decode(errors='replace')}")
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n + 2)[:-2].decode(errors="replace")
        raise Failure(f"unexpected reply from redis: {line[:40]!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def sync_to(self, out, digest):
        """Receives an RDB as a replica does (SYNC), into `out`; returns its size."""
        # rdb-only (redis 7): the node sends the RDB and no replication stream after it.
        self.call("REPLCONF", "rdb-only", "1")
        self.send("SYNC")
        # The node sends newlines while it prepares the RDB, then `$<size>` (from disk) or `$EOF:<mark>` (diskless).
        while True:
            while not self.buf:
                self.fill()
            if self.buf[:1] == b"\n":
                self.buf = self.buf[1:]
                continue
            header = self.line()
            break
        if header[:1] == b"-":
            raise Failure(f"redis refused SYNC: {header[1:].decode(errors='replace')}")
        if not header.startswith(b"$"):
            raise Failure(f"unexpected SYNC header {header[:60]!r}")
        size = 0
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            if len(mark) != 40:
                raise Failure("SYNC: the EOF mark is not 40 bytes")
            tail = b""
            while True:
                if not self.buf:
                    self.fill()
                data, self.buf = tail + self.buf, b""
                if data.endswith(mark):
                    body = data[: -len(mark)]
                    out.write(body)
                    digest.update(body)
                    return size + len(body)
                # Keep the last 40 bytes back: they may be the start of the mark.
                body, tail = data[:-40], data[-40:]
                out.write(body)
                digest.update(body)
                size += len(body)
        left = int(header[1:])
        while left > 0:
            if not self.buf:
                self.fill()
            body, self.buf = self.buf[:left], self.buf[left:]
            out.write(body)
            digest.update(body)
            left -= len(body)
            size += len(body)
        return size


def info(section):
    r = Redis()
    try:
        text = r.call("INFO", section) or ""
    finally:
        r.close()
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))


def ordinal(hostname):
    m = re.match(rf"^{re.escape(STATEFULSET)}-([0-9]+)(\.|$)", hostname)
    return int(m.group(1)) if m else None


def taker():
    """Whether this pod takes the group's snapshots now, and why (for the log)."""
    rep = info("replication")
    if rep.get("role") != "slave":
        return False, f"role {rep.get('role')}: the master is never loaded with a snapshot"
    if rep.get("master_link_status") != "up" or rep.get("master_sync_in_progress") != "0":
        return False, "not in sync with the master"
    master = ordinal(rep.get("master_host", ""))
    me = ordinal(POD)
    if master is None or me is None:
        return False, f"cannot tell ordinals (master {rep.get('master_host')}, pod {POD})"
    chosen = 1 if master == 0 else 0
    return me == chosen, f"the snapshot taker is pod {chosen} while pod {master} is the master"


# ---------------------------------------------------------------------------------------
# Google: the metadata server's token, Cloud Storage's JSON API


def connection(base):
    u = urllib.parse.urlsplit(base if "://" in base else f"http://{base}")
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    return cls(u.netloc, timeout=TIMEOUT, blocksize=BLOCK), u.path.rstrip("/")


def token():
    conn, root = connection(METADATA)
    try:
        conn.request("GET", f"{root}/computeMetadata/v1/instance/service-accounts/default/token", headers={"Metadata-Flavor": "Google"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise Failure(f"metadata server: HTTP {r.status} for the token (is Workload Identity set up for the pod's service account?)")
        return json.loads(body)["access_token"]
    finally:
        conn.close()


def upload(path, name, size, md5):
    """A single-request (media) upload; ifGenerationMatch=0 never replaces an object."""
    conn, root = connection(STORAGE)
    query = urllib.parse.urlencode({"uploadType": "media", "name": name, "ifGenerationMatch": "0"})
    try:
        with open(path, "rb") as f:
            conn.request(
                "POST",
                f"{root}/upload/storage/v1/b/{urllib.parse.quote(BUCKET, safe='')}/o?{query}",
                body=f,
                headers={
                    "Authorization": f"Bearer {token()}",
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                },
            )
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    if r.status != 200:
        raise Failure(f"Cloud Storage: HTTP {r.status}: {body[:300].decode(errors='replace')}")
    obj = json.loads(body)
    if int(obj.get("size", -1)) != size or obj.get("md5Hash") != base64.b64encode(md5).decode():
        raise Failure(f"Cloud Storage stored {obj.get('size')} bytes with MD5 {obj.get('md5Hash')}, sent {size} bytes with MD5 {base64.b64encode(md5).decode()}")
    return obj


# ---------------------------------------------------------------------------------------
# State and metrics


def load_state():
    try:
        with open(STATE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_state(state):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, STATE)


lock = threading.Lock()
metrics = {"attempts": 0, "failures": 0, "taker": 0, "last_attempt": 0.0}


def exposition():
    with lock:
        state = load_state()
        rows = [
            ("last_success_timestamp_seconds", "gauge", "End of the last snapshot this pod uploaded and Cloud Storage confirmed (0: none).", state.get("last_success", 0)),
            ("last_size_bytes", "gauge", "Size of that snapshot.", state.get("size", 0)),
            ("last_duration_seconds", "gauge", "Time that snapshot took, SYNC and upload.", state.get("duration", 0)),
            ("last_attempt_timestamp_seconds", "gauge", "Start of this pod's last attempt (0: none since it started).", metrics["last_attempt"]),
            ("attempts_total", "counter", "Snapshots this container started.", metrics["attempts"]),
            ("failures_total", "counter", "Snapshots this container started that did not reach Cloud Storage intact.", metrics["failures"]),
            ("taker", "gauge", "1 while this pod is the group's snapshot taker.", metrics["taker"]),
            ("interval_seconds", "gauge", "Time between two snapshots.", INTERVAL),
        ]
    out = []
    for name, kind, text, value in rows:
        out += [f"# HELP meridian_redis_backup_{name} {text}", f"# TYPE meridian_redis_backup_{name} {kind}", f"meridian_redis_backup_{name} {value}"]
    return ("\n".join(out) + "\n").encode()


class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------------------------------
# The loop


def attempt():
    started = time.time()
    name = f"{PREFIX}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-{POD}.rdb"
    digest = hashlib.md5()
    partial = SNAPSHOT + ".partial"
    try:
        r = Redis()
        try:
            with open(partial, "wb") as out:
                size = r.sync_to(out, digest)
                out.flush()
                os.fsync(out.fileno())
        finally:
            r.close()
        with open(partial, "rb") as f:
            if f.read(5) != b"REDIS":
                raise Failure("the SYNC payload is not an RDB (no REDIS header)")
        os.replace(partial, SNAPSHOT)
        synced = time.time()
        upload(SNAPSHOT, name, size, digest.digest())
        done = time.time()
        with lock:
            save_state({"last_success": round(done, 3), "size": size, "duration": round(done - started, 3), "object": name})
        log(f"uploaded gs://{BUCKET}/{name}: {size} bytes, SYNC {synced - started:.2f}s, upload {done - synced:.2f}s")
        return True
    finally:
        for p in (partial, SNAPSHOT):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass


def main():
    os.makedirs(DIR, exist_ok=True)
    server = http.server.ThreadingHTTPServer((ENV.get("LISTEN_ADDR") or "0.0.0.0", METRICS_PORT), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"every {INTERVAL}s to gs://{BUCKET}/{PREFIX} (checks every {CHECK}s, retries after {RETRY}s)")
    said = None
    while True:
        try:
            chosen, why = taker()
        except (OSError, Failure) as e:
            chosen, why = False, f"redis not answering: {e}"
        metrics["taker"] = 1 if chosen else 0
        if why != said:
            log(f"{'takes' if chosen else 'does not take'} the snapshots: {why}")
            said = why
        now = time.time()
        due = now - load_state().get("last_success", 0) >= INTERVAL
        if chosen and due and now - metrics["last_attempt"] >= RETRY:
            metrics["last_attempt"] = now
            metrics["attempts"] += 1
            try:
                attempt()
            except (OSError, ValueError, KeyError, Failure, http.client.HTTPException) as e:
                metrics["failures"] += 1
                log(f"snapshot failed, retrying in {RETRY}s: {e}")
        time.sleep(CHECK)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
