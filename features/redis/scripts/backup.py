"""Scheduled RDB snapshot of a Redis group to Cloud Storage (docs/redis.md, "Backups").

Runs as the `backup` container of every pod of a primary region's group. Each check it asks
its own redis (localhost) whether this pod takes the group's snapshots: a replica in sync with
the master, and, in the master's own list of replicas, the in-sync one with the lowest ordinal
(pod 0 while it is a replica and in sync, else the next), so one pod uploads per interval, a
lost pod's turn passes to the next, and the master is never loaded. When the group's last
success (the newest of this pod's own and the one the group's data records, so a taker that
moves does not take one early) is older than the interval, it claims the snapshot with a lease
on the master, takes an RDB with SYNC (what `redis-cli --rdb` does) onto the data volume,
uploads it to Cloud Storage with a token of the pod's Workload Identity, and records the
success only once Cloud Storage reports an object of the same size and MD5: on its volume and
in the group's data. Metrics (meridian_redis_backup_*) on BACKUP_METRICS_PORT.

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
# Group-wide, in the group's own data (db 0; replicated to every pod, so a pod that becomes the
# taker knows the last success of the one before it): the end of the last confirmed snapshot,
# and who is taking one now (a lease, so two pods that both see themselves the taker for a
# moment during a failover do not both take one).
LAST_KEY = f"meridian:backup:{STATEFULSET}:last-success"
LEASE_KEY = f"meridian:backup:{STATEFULSET}:taking"
LEASE = RETRY
# A replica the master heard from within this many seconds is in sync (replicas acknowledge every
# second); one whose pod died without closing its connection drops out after it.
IN_SYNC_LAG = 10
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
    def __init__(self, host=REDIS_HOST, port=REDIS_PORT):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
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


def once(*args, host=REDIS_HOST, port=REDIS_PORT):
    r = Redis(host, port)
    try:
        return r.call(*args)
    finally:
        r.close()


def parse_info(text):
    return dict(l.split(":", 1) for l in (text or "").splitlines() if ":" in l and not l.startswith("#"))


def ordinal(hostname):
    m = re.match(rf"^{re.escape(STATEFULSET)}-([0-9]+)(\.|$)", hostname)
    return int(m.group(1)) if m else None


def in_sync(master_info):
    """Ordinals of the replicas the master lists online, acknowledged within IN_SYNC_LAG seconds (they announce their hostnames)."""
    out = []
    for k, v in master_info.items():
        if not re.match(r"^slave[0-9]+$", k):
            continue
        r = dict(kv.split("=", 1) for kv in v.split(",") if "=" in kv)
        n = ordinal(r.get("ip", ""))
        if n is not None and r.get("state") == "online" and int(r.get("lag", IN_SYNC_LAG + 1)) <= IN_SYNC_LAG:
            out.append(n)
    return sorted(out)


def taker():
    """Whether this pod takes the group's snapshots now, why (for the log), and the master's (host, port)."""
    rep = parse_info(once("INFO", "replication"))
    if rep.get("role") != "slave":
        return False, f"role {rep.get('role')}: the master is never loaded with a snapshot", None
    if rep.get("master_link_status") != "up" or rep.get("master_sync_in_progress") != "0":
        return False, "not in sync with the master", None
    master = (rep.get("master_host", ""), int(rep.get("master_port", REDIS_PORT)))
    me = ordinal(POD)
    if me is None:
        return False, f"cannot tell this pod's ordinal ({POD})", None
    # Every replica asks the same master: one answer, whichever pod asks.
    try:
        listed = in_sync(parse_info(once("INFO", "replication", host=master[0], port=master[1])))
    except (OSError, Failure) as e:
        return False, f"the master does not answer: {e}", None
    if not listed:
        return False, "the master lists no replica in sync", None
    return me == listed[0], f"the snapshot taker is pod {listed[0]}, the lowest in-sync replica of {master[0].split('.')[0]}", master


def group_last_success():
    """The group's last success as its data records it (read on this pod's own redis; 0: none), None if redis does not answer."""
    try:
        return float(once("GET", LAST_KEY) or 0)
    except (OSError, ValueError, Failure):
        return None


def claim(master):
    """Takes the lease on the master; False if another pod holds it."""
    r = Redis(*master)
    try:
        try:
            if r.call("SET", LEASE_KEY, POD, "NX", "EX", str(LEASE)) is not None:
                return True
            holder = r.call("GET", LEASE_KEY)
            if holder != POD:
                log(f"{holder} is taking the snapshot")
                return False
            r.call("SET", LEASE_KEY, POD, "EX", str(LEASE))
            return True
        except Failure as e:
            # READONLY: it is no longer the master. Otherwise (a full noeviction group, too few
            # replicas for min-replicas-to-write) a snapshot matters more than the lease.
            if "READONLY" in str(e):
                raise
            log(f"no lease ({e}): taking the snapshot without it")
            return True
    finally:
        r.close()


def record(master, done):
    """Records the success in the group's data, for the pod that takes the next snapshot."""
    try:
        once("SET", LAST_KEY, f"{done:.3f}", host=master[0], port=master[1])
    except (OSError, Failure) as e:
        log(f"the success is recorded on this pod only ({e}): a pod that becomes the taker may take one early")


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
metrics = {"attempts": 0, "failures": 0, "taker": 0, "last_attempt": 0.0, "group_last": 0.0}


def last_success(state):
    return max(state.get("last_success", 0), metrics["group_last"])


def exposition():
    with lock:
        state = load_state()
        rows = [
            ("last_success_timestamp_seconds", "gauge", "End of the group's last snapshot Cloud Storage confirmed, taken by this pod or recorded in the group's data by another (0: none).", last_success(state)),
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


def attempt(master):
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
        record(master, done)
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
            chosen, why, master = taker()
        except (OSError, Failure) as e:
            chosen, why, master = False, f"redis not answering: {e}", None
        metrics["taker"] = 1 if chosen else 0
        recorded = group_last_success()
        if recorded is not None:
            metrics["group_last"] = recorded
        if why != said:
            log(f"{'takes' if chosen else 'does not take'} the snapshots: {why}")
            said = why
        now = time.time()
        due = now - last_success(load_state()) >= INTERVAL
        if chosen and due and now - metrics["last_attempt"] >= RETRY:
            try:
                claimed = claim(master)
            except (OSError, Failure) as e:
                claimed = False
                log(f"cannot claim the snapshot: {e}")
            if claimed:
                metrics["last_attempt"] = now
                metrics["attempts"] += 1
                try:
                    attempt(master)
                except (OSError, ValueError, KeyError, Failure, http.client.HTTPException) as e:
                    metrics["failures"] += 1
                    log(f"snapshot failed, retrying in {RETRY}s: {e}")
        time.sleep(CHECK)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
