"""Soak test of `avatarium serve` (bench/soak.sh runs it; see bench/README.md).

For a fixed time, N loopback callers mix good imports by URL, uploads, account reads,
hostile URLs (private and metadata addresses, a redirect into a private range, other
schemes, a slow origin) and hostile bytes (a pixel bomb, an oversized body, a truncated
JPEG, text). Every answer must carry the errorCode its kind expects; the server's RSS and
open file descriptors must stay flat after warm-up. Latency percentiles and calls/s are read
from the server's own /metrics, then printed beside the client's view.
"""

import argparse
import base64
import http.client
import http.server
import json
import multiprocessing
import os
import random
import re
import signal
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

API_KEY = "3_soak"
SECRET = base64.b64encode(b"the soak site's secret").decode()
MAX_PHOTO_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT_MS = 10000


def png(width, height, rows):
    """A PNG whose header says width x height; `rows` is the raw (filtered) pixel data."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def photos(root, corpus):
    """Avatar-sized photos people upload: the corpus's small and medium classes."""
    names = sorted(os.listdir(corpus)) if os.path.isdir(corpus) else []
    chosen = [os.path.join(corpus, n) for n in names if n.startswith(("small_", "medium_"))]
    chosen += [
        os.path.join(root, "examples/photos/astronaut.png"),
        os.path.join(root, "conformance/files/photo.webp"),
        os.path.join(root, "conformance/files/photo.gif"),
    ]
    return [open(p, "rb").read() for p in chosen]


class Origin(http.server.BaseHTTPRequestHandler):
    """The photos' web server, and the hostile ones."""

    protocol_version = "HTTP/1.1"
    files = {}
    forbidden_port = 0


    def log_message(self, *args):
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/slow.jpg":
            # Headers at once, then a byte a second: the fetch deadline must cut it.
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            return
        if path == "/to-private.jpg":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{self.forbidden_port}/photo.jpg")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/huge.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(MAX_PHOTO_BYTES * 4))
            self.end_headers()
            try:
                chunk = b"\xff" * 65536
                for _ in range(MAX_PHOTO_BYTES * 4 // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        body = self.files.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the fetcher stopped reading: a refusal from the header, or a deadline


class Forbidden(http.server.BaseHTTPRequestHandler):
    """A server the fetcher must never reach (127.0.0.2: loopback, not allowed): a refusal
    that only failed to connect would pass as 404004, so every request here is counted."""

    protocol_version = "HTTP/1.1"
    hits = None  # a multiprocessing.Value: the origins run in their own process

    def log_message(self, *args):
        pass

    def do_GET(self):
        with Forbidden.hits.get_lock():
            Forbidden.hits.value += 1
        body = Origin.files.get("/good/0", b"")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OriginServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # callers hang up on purpose (refusals, deadlines)


def serve_origins(*servers):
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def kinds(origin, forbidden, good_count):
    """(name, weight, expected errorCodes, request maker). Weights favour good calls."""
    o = f"http://127.0.0.1:{origin}"

    def url(u):
        return lambda uid: ("accounts.importProfilePhoto", {"UID": uid, "url": u(), "publish": "true"})

    def upload(body):
        return lambda uid: (
            "accounts.setProfilePhoto",
            {"UID": uid, "photoBytes": base64.b64encode(body()).decode(), "publish": "true"},
        )

    good = lambda: f"{o}/good/{random.randrange(good_count)}"
    good_bytes = lambda: Origin.files[f"/good/{random.randrange(good_count)}"]
    return [
        ("import", 40, {0}, url(good)),
        ("upload", 20, {0}, upload(good_bytes)),
        ("info", 10, {0, 403005}, lambda uid: ("accounts.getAccountInfo", {"UID": uid})),
        ("ssrf-private", 3, {404004}, url(lambda: "http://10.1.2.3/photo.jpg")),
        ("ssrf-metadata", 3, {404004}, url(lambda: "http://169.254.169.254/latest/meta-data/")),
        ("ssrf-loopback", 3, {404004}, url(lambda: f"http://127.0.0.2:{forbidden}/good/0")),
        ("redirect-private", 3, {404004}, url(lambda: f"{o}/to-private.jpg")),
        ("scheme", 2, {404004}, url(lambda: "file:///etc/passwd")),
        ("slow-origin", 1, {504002}, url(lambda: f"{o}/slow.jpg")),
        ("too-large", 2, {413004}, url(lambda: f"{o}/huge.jpg")),
        ("pixel-bomb", 3, {413004}, url(lambda: f"{o}/bomb.png")),
        ("pixel-bomb-upload", 2, {413004}, upload(lambda: Origin.files["/bomb.png"])),
        ("truncated", 3, {409010}, url(lambda: f"{o}/truncated.png")),
        ("not-an-image", 3, {409010}, upload(lambda: b"this is not a photo\n" * 50)),
    ]


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.codes = {}  # kind -> {code: n}
        self.unexpected = []
        self.latencies = []

    def snapshot(self):
        with self.lock:
            return {k: dict(v) for k, v in self.codes.items()}, list(self.unexpected), sorted(self.latencies)

    def add(self, kind, expected, code, seconds, detail):
        with self.lock:
            per = self.codes.setdefault(kind, {})
            per[code] = per.get(code, 0) + 1
            self.latencies.append(seconds)
            if code not in expected and len(self.unexpected) < 10:
                self.unexpected.append((kind, code, detail[:400]))


def caller(index, port, table, deadline, results, stop):
    weights = [k[1] for k in table]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while time.monotonic() < deadline and not stop.is_set():
        name, _, expected, make = random.choices(table, weights)[0]
        # 50 accounts per caller: the store grows to a working set, then replaces.
        method, params = make(f"soak-{index}-{n % 50}")
        n += 1
        # The apiKey first: the server finds it in the body's first 64 KiB.
        body = urllib.parse.urlencode({"apiKey": API_KEY, "secret": SECRET, **params})
        started = time.monotonic()
        try:
            conn.request(
                "POST", f"/{method}", body,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            answer = conn.getresponse().read()
            code = json.loads(answer).get("errorCode", -1)
            detail = answer[:300].decode(errors="replace")
        except (OSError, http.client.HTTPException, ValueError) as e:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            code, detail = -1, repr(e)
        results.add(name, expected, code, time.monotonic() - started, detail)


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss * 1024, len(os.listdir(f"/proc/{pid}/fd"))


def flat(values, slack_abs, slack_rel):
    """After warm-up, the last third's mean is no more than the first third's plus slack."""
    if len(values) < 9:
        return False, 0.0, 0.0
    third = len(values) // 3
    first = sum(values[:third]) / third
    last = sum(values[-third:]) / third
    return last <= first + max(slack_abs, first * slack_rel), first, last


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prometheus(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"/metrics is not the Prometheus text format: {line!r}")
        name, labels, value = m.groups()
        pairs = frozenset(LABEL.findall(labels or ""))
        series[(name, pairs)] = series.get((name, pairs), 0.0) + float(value)
    return series


def quantile(buckets, q):
    """From cumulative (le, count) buckets, the q-quantile by linear interpolation."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return 0.0
    rank, previous_le, previous_count = q * total, 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return previous_le
            span = count - previous_count
            return previous_le + (le - previous_le) * ((rank - previous_count) / span if span else 0)
        previous_le, previous_count = le, count
    return previous_le


def server_figures(series, seconds):
    """Calls/s and, per method, p50/p99 of avatarium_call_seconds."""
    calls = sum(v for (n, _), v in series.items() if n == "avatarium_calls_total")
    sums = {}
    for (name, labels), value in series.items():
        if name == "avatarium_call_seconds_bucket":
            labels = dict(labels)
            key = (labels.get("method", ""), float(labels["le"]))
            sums[key] = sums.get(key, 0.0) + value
    by_method = {}
    for (method, le), value in sums.items():
        by_method.setdefault(method, []).append((le, value))
    latency = {
        m: (quantile(b, 0.5), quantile(b, 0.99), max(c for _, c in b)) for m, b in by_method.items()
    }
    return calls / seconds, latency


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--secs", type=int, default=600)
    ap.add_argument("--callers", type=int, default=32)
    ap.add_argument("--out", default=None)
    ap.add_argument("--corpus", default=None)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    corpus = args.corpus or os.path.join(root, "..", "shared", "bench-corpus")
    out = args.out or tempfile.mkdtemp(prefix="avatarium-soak-")
    os.makedirs(out, exist_ok=True)

    good = photos(root, corpus)
    for i, body in enumerate(good):
        Origin.files[f"/good/{i}"] = body
    Origin.files["/bomb.png"] = png(60000, 60000, b"\x00" * 4096)
    # Half a PNG (a truncated JPEG decodes, grey below the cut, as in browsers).
    astronaut = open(os.path.join(root, "examples/photos/astronaut.png"), "rb").read()
    Origin.files["/truncated.png"] = astronaut[: len(astronaut) // 2]
    # The origins get their own process (forked with the files): sharing the callers' GIL,
    # they were the bottleneck and good fetches timed out.
    Forbidden.hits = multiprocessing.Value("i", 0)
    origin = OriginServer(("127.0.0.1", 0), Origin)
    forbidden = OriginServer(("127.0.0.2", 0), Forbidden)
    Origin.forbidden_port = forbidden.server_address[1]
    origins = multiprocessing.get_context("fork").Process(
        target=serve_origins, args=(origin, forbidden), daemon=True
    )
    origins.start()
    origin_port = origin.server_address[1]

    config = os.path.join(out, "avatarium.toml")
    with open(config, "w") as f:
        f.write(
            f'data_dir = "{out}/data"\n'
            f"max_photo_bytes = {MAX_PHOTO_BYTES}\n"
            f"fetch_timeout_ms = {FETCH_TIMEOUT_MS}\n"
            f"fetch_allowed_ports = [80, 443, {origin_port}, {Origin.forbidden_port}]\n"
            'allow_addresses = ["127.0.0.1"]\n'
            f"max_queued_imports = {args.callers * 2}\n"
            f"max_concurrent_fetches = {args.callers * 2}\n"
            f"max_queued_fetches = {args.callers * 2}\n"
            f'\n[[sites]]\napi_key = "{API_KEY}"\nsecret = "{SECRET}"\n'
        )
    log = open(os.path.join(out, "serve.log"), "w")
    server = subprocess.Popen(
        [args.cli, "serve", "--config", config, "--listen", "127.0.0.1:0",
         "--allow-loopback-plain-http", "--rate-limit", "0", "--address-rate-limit", "0",
         "--max-connections-per-address", str(max(64, args.callers * 2))],
        stdout=subprocess.PIPE, stderr=log, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AVATARIUM_")},
    )
    crashed = None
    text = ""
    try:
        first = server.stdout.readline()
        if not first.startswith("listening on http://"):
            sys.exit(f"serve did not start: {first!r} (log: {out}/serve.log)")
        # Whatever else it prints must not fill a pipe nobody reads.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        port = int(first.strip().rsplit(":", 1)[1])
        table = kinds(origin_port, Origin.forbidden_port, len(good))
        results = Results()
        stop = threading.Event()
        started = time.monotonic()
        deadline = started + args.secs
        threads = [
            threading.Thread(target=caller, args=(i, port, table, deadline, results, stop), daemon=True)
            for i in range(args.callers)
        ]
        for t in threads:
            t.start()
        samples = []  # (seconds since start, rss, fds)
        while time.monotonic() < deadline:
            time.sleep(1)
            if server.poll() is not None:
                crashed = server.returncode
                stop.set()
                break
            rss, fds = sample(server.pid)
            samples.append((time.monotonic() - started, rss, fds))
        # One deadline for all: a call may run up to the fetch timeout past the end.
        join_by = time.monotonic() + FETCH_TIMEOUT_MS / 1000 + 30
        for t in threads:
            t.join(timeout=max(0.0, join_by - time.monotonic()))
        stuck = sum(t.is_alive() for t in threads)
        elapsed = time.monotonic() - started
        if crashed is None:
            metrics = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            metrics.request("GET", "/metrics")
            answer = metrics.getresponse()
            text = answer.read().decode() if answer.status == 200 else ""
            with open(os.path.join(out, "metrics.txt"), "w") as f:
                f.write(text)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
        origins.terminate()

    codes, unexpected, client = results.snapshot()
    warm = max(5.0, args.secs * 0.2)
    after = [x for x in samples if x[0] >= warm]
    rss_ok, rss_first, rss_last = flat([x[1] for x in after], 24 * 2**20, 0.15)
    fds_ok, fds_first, fds_last = flat([x[2] for x in after], 8, 0.0)
    series = prometheus(text)
    calls_per_s, latency = server_figures(series, elapsed)
    # Refused for where they point (not for their size): what the SSRF kinds must meet.
    refused = sum(
        v for (n, labels), v in series.items()
        if n == "avatarium_urls_refused_total" and dict(labels).get("reason") != "size"
    )
    pct = lambda q: client[min(len(client) - 1, int(q * len(client)))] * 1000 if client else 0

    report = []
    report.append(f"soak: {args.callers} callers, {elapsed:.0f} s, {len(client)} calls "
                  f"({len(client) / elapsed:.1f}/s client side, {calls_per_s:.1f}/s from /metrics)")
    report.append(f"client latency: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms")
    report.append("server latency (avatarium_call_seconds, interpolated from buckets):")
    for method, (p50, p99, n) in sorted(latency.items()):
        report.append(f"  {method:32} n={int(n):7}  p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms")
    if samples:
        report.append(f"RSS after warm-up ({warm:.0f} s): first third {rss_first / 2**20:.1f} MiB, "
                      f"last third {rss_last / 2**20:.1f} MiB; peak {max(x[1] for x in samples) / 2**20:.1f} MiB")
        report.append(f"open fds after warm-up: first third {fds_first:.1f}, last third {fds_last:.1f}")
    report.append(f"URLs refused by the fetch policy (avatarium_urls_refused_total): {refused:.0f}")
    report.append("answers per kind (errorCode: count):")
    for kind, per in sorted(codes.items()):
        report.append(f"  {kind:18} " + ", ".join(f"{c}: {n}" for c, n in sorted(per.items())))
    print("\n".join(report))
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    with open(os.path.join(out, "samples.json"), "w") as f:
        json.dump(samples, f)
    print(f"(metrics: {out}/metrics.txt, log: {out}/serve.log)")

    failures = []
    if crashed is not None:
        tail = open(os.path.join(out, "serve.log"), errors="replace").read()[-2000:]
        failures.append(f"serve exited {crashed} during the soak; its log ends:\n{tail}")
    if stuck:
        failures.append(f"{stuck} callers still waiting for an answer 30 s after the end")
    if unexpected:
        failures.append("unexpected errorCodes: " + json.dumps(unexpected, indent=1))
    if not all(codes.get(k[0]) for k in table):
        failures.append("a kind of call never ran: " + str([k[0] for k in table if k[0] not in codes]))
    if Forbidden.hits.value:
        failures.append(f"the fetcher reached 127.0.0.2 {Forbidden.hits.value} times")
    policy_refusals = sum(
        n for kind, per in codes.items() if kind.startswith(("ssrf", "redirect", "scheme"))
        for c, n in per.items() if c == 404004
    )
    if not text:
        failures.append("/metrics answered nothing")
    elif refused < policy_refusals:
        failures.append(f"{policy_refusals} URLs should have been refused by the fetch policy, "
                        f"/metrics counts {refused:.0f}: some only failed to connect")
    if not rss_ok:
        failures.append(f"RSS grew after warm-up (or too few samples): {rss_first / 2**20:.1f} -> {rss_last / 2**20:.1f} MiB")
    if not fds_ok:
        failures.append(f"open fds grew after warm-up (or too few samples): {fds_first:.1f} -> {fds_last:.1f}")
    if crashed is None and server.returncode != 0:
        failures.append(f"serve exited {server.returncode} on SIGTERM")
    if failures:
        sys.exit("soak FAILED:\n" + "\n".join(failures))
    print("soak passed")


if __name__ == "__main__":
    main()
