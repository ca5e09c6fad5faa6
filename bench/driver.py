"""Side-by-side pipeline benchmark driver (bench/README.md; run through bench/run.sh).

Runs our pipeline (avatarium-bench), sharp, Pillow and the libjpeg-turbo 1/8-scale decode floor
on the same files with the same workload, in interleaved rounds, each process pinned to one
core; reads each process's own CPU time per file and its peak RSS (wait4). Then checks
output equivalence against Pillow and our memory behaviour.
"""

import argparse
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["large", "largebl", "medium", "small", "png", "gif"]


def klass(name):
    return name.split("_", 1)[0]


def build_manifest(corpus, out_path, only):
    files = sorted(
        f for f in os.listdir(corpus)
        if f.lower().endswith((".jpg", ".jpeg", ".png", ".gif"))
        and (not only or any(f.startswith(o) for o in only))
    )
    lines = []
    for f in files:
        path = os.path.join(corpus, f)
        with Image.open(path) as im:
            px = im.width * im.height
        # Small files are repeated inside one measurement so that CPU-time resolution and
        # per-call noise do not dominate; every implementation gets the same count.
        reps = max(1, min(25, math.ceil(2_000_000 / px)))
        lines.append(f"{path}\t{reps}")
    with open(out_path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return files


def run_proc(cmd, env=None):
    """Run `cmd`, return (stdout lines as JSON, peak RSS KiB, wall seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"{cmd[0:3]} failed with {p.returncode}")
    recs = [json.loads(l) for l in out.decode().splitlines() if l.startswith("{")]
    # Each implementation reports its own VmHWM (wait4's ru_maxrss would include ours).
    hwm = [r["vmhwm_kib"] for r in recs if "vmhwm_kib" in r]
    recs = [r for r in recs if "vmhwm_kib" not in r]
    return recs, (hwm[0] if hwm else ru.ru_maxrss), time.monotonic() - t0


def pin(cmd):
    return (["taskset", "-c", "0"] + cmd) if shutil.which("taskset") else cmd


def rates(recs, files):
    """Per class: images per CPU-second (each file counted once: n / sum(cpu/reps))."""
    by_file = {r["file"]: r for r in recs if "error" not in r}
    out = {}
    for c in CLASSES + ["all"]:
        names = [f for f in files if c == "all" or klass(f) == c]
        names = [f for f in names if f in by_file]
        if not names:
            continue
        t = sum(by_file[f]["cpu"] / by_file[f]["reps"] for f in names)
        out[c] = (len(names), len(names) / t if t > 0 else float("inf"))
    return out


def mad(a, b):
    """Mean absolute difference per channel value of two same-size images (0-255)."""
    mode = "RGBA" if "A" in a.mode or "A" in b.mode else "RGB"
    a, b = a.convert(mode), b.convert(mode)
    if a.size != b.size:
        return None
    da, db = a.tobytes(), b.tobytes()
    return sum(abs(x - y) for x, y in zip(da, db)) / len(da)


def open_out(d, name, what):
    for ext in ("jpg", "png"):
        p = os.path.join(d, f"{name}.{what}.{ext}")
        if os.path.exists(p):
            im = Image.open(p)
            im.load()
            return im
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--ours", required=True, help="the avatarium-bench binary")
    ap.add_argument("--node", default="node")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=[], help="file-name prefixes")
    ap.add_argument("--results", default=os.path.join(HERE, ".results"))
    ap.add_argument("--skip-check", action="store_true")
    args = ap.parse_args()

    os.makedirs(args.results, exist_ok=True)
    manifest = os.path.join(args.results, "manifest.tsv")
    files = build_manifest(args.corpus, manifest, args.only)
    peers = os.path.join(HERE, "peers")
    node_env = dict(os.environ, UV_THREADPOOL_SIZE="1")
    impls = {
        "ours": (pin([args.ours, "run", manifest]), None),
        "sharp": (pin([args.node, os.path.join(peers, "sharp_bench.js"), "run", manifest]), node_env),
        "Pillow": (pin([args.python, os.path.join(peers, "pillow_bench.py"), "run", manifest]), None),
        "floor": (pin([args.python, os.path.join(peers, "pillow_bench.py"), "floor", manifest]), None),
    }
    names = list(impls)
    per_round = {k: [] for k in names}
    rss = {k: 0 for k in names}
    errors = {}
    print(f"{len(files)} files from {args.corpus}; {args.rounds} interleaved rounds, "
          f"each process pinned to CPU 0; CPU time per file from each process itself",
          flush=True)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for k in order:
            cmd, env = impls[k]
            recs, peak, wall = run_proc(cmd, env)
            per_round[k].append(rates(recs, files))
            rss[k] = max(rss[k], peak)
            for rec in recs:
                if "error" in rec:
                    errors.setdefault(k, set()).add(f"{rec['file']}: {rec['error']}")
            print(f"  round {r + 1}: {k:<6} {wall:6.1f} s wall", flush=True)
            with open(os.path.join(args.results, f"{k}.round{r + 1}.jsonl"), "w") as fh:
                fh.write("\n".join(json.dumps(x) for x in recs) + "\n")

    def med(k, c):
        vals = [rr[c][1] for rr in per_round[k] if c in rr]
        return statistics.median(vals) if vals else None

    def fmt(v, w=7, p=1):
        return f"{v:>{w}.{p}f}" if v is not None else " " * (w - 1) + "-"

    print()
    print("Images per CPU-second (median of rounds); ratios = ours / peer; floor = libjpeg-turbo")
    print("1/8-scale decode alone (Pillow draft('RGB', (w/8, h/8)) + load), JPEG only.")
    print()
    hdr = (f"| {'class':<8} | {'n':>3} | {'ours':>7} | {'sharp':>7} | {'Pillow':>7} | "
           f"{'floor':>7} | {'vs sharp':>8} | {'vs Pillow':>9} | {'% floor':>7} |")
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for c in CLASSES + ["all"]:
        o, s, p, f = med("ours", c), med("sharp", c), med("Pillow", c), med("floor", c)
        if o is None:
            continue
        if c == "all":
            f = None  # the floor covers the JPEG classes only
        n = per_round["ours"][0][c][0]
        rs = o / s if s else None
        rp = o / p if p else None
        rf = 100 * o / f if f else None
        print(f"| {c:<8} | {n:>3} | {fmt(o)} | {fmt(s)} | {fmt(p)} | {fmt(f)} | "
              f"{fmt(rs, 7, 2)}x | {fmt(rp, 8, 2)}x | {fmt(rf, 6, 0)}% |")
    print()
    print("Peak RSS of one benchmark process (whole corpus, max over rounds; includes the")
    print("runtime: node ~45 MB, CPython ~10 MB before any image):")
    for k in names:
        print(f"  {k:<7} {rss[k] / 1024:7.1f} MB")
    for k, errs in errors.items():
        for e in sorted(errs):
            print(f"  ERROR {k}: {e}")

    if args.skip_check:
        return
    # ---- output equivalence ------------------------------------------------------------
    out = os.path.join(args.results, "out")
    shutil.rmtree(out, ignore_errors=True)
    run_proc([args.ours, "write", manifest, os.path.join(out, "ours")])
    run_proc([args.node, os.path.join(peers, "sharp_bench.js"), "write", manifest,
              os.path.join(out, "sharp")], node_env)
    run_proc([args.python, os.path.join(peers, "pillow_bench.py"), "write", manifest,
              os.path.join(out, "Pillow")])
    print()
    print("Output equivalence against Pillow (same files, same workload):")
    size_mismatch, rows = [], []
    for f in files:
        ims = {k: (open_out(os.path.join(out, k), f, "photo"), open_out(os.path.join(out, k), f, "thumb"))
               for k in ("ours", "Pillow", "sharp")}
        op, ot = ims["ours"]
        pp, pt = ims["Pillow"]
        sp, st = ims["sharp"]
        if None in (op, ot, pp, pt):
            size_mismatch.append(f"{f}: missing output")
            continue
        if op.size != pp.size or ot.size != pt.size:
            size_mismatch.append(f"{f}: ours photo {op.size} thumb {ot.size}, "
                                 f"Pillow photo {pp.size} thumb {pt.size}")
        rows.append((f, mad(ot, pt), mad(op, pp),
                     mad(st, pt) if st is not None else None,
                     mad(sp, pp) if sp is not None and sp.size == pp.size else None))
    ok = len(files) - len(size_mismatch)
    print(f"  geometry: {ok}/{len(files)} files have the same photo and thumbnail sizes as Pillow")
    for m in size_mismatch:
        print(f"    DIFFERENT {m}")

    def summary(i):
        vals = [r[i] for r in rows if r[i] is not None]
        if not vals:
            return "-"
        worst = max(rows, key=lambda r: r[i] if r[i] is not None else -1)
        return f"mean {statistics.mean(vals):.2f}, max {max(vals):.2f} ({worst[0]})"

    print("  mean absolute difference per channel value (0-255), against Pillow's output:")
    print(f"    ours  thumbnail: {summary(1)}")
    print(f"    ours  photo:     {summary(2)}")
    print(f"    sharp thumbnail: {summary(3)}   (for scale: sharp vs Pillow)")
    print(f"    sharp photo:     {summary(4)}")
    with open(os.path.join(args.results, "equivalence.tsv"), "w") as fh:
        fh.write("file\tours_thumb_mad\tours_photo_mad\tsharp_thumb_mad\tsharp_photo_mad\n")
        for r in rows:
            fh.write("\t".join([r[0]] + ["" if v is None else f"{v:.3f}" for v in r[1:]]) + "\n")

    # ---- memory ------------------------------------------------------------------------
    print()
    print("Memory (ours): peak RSS of a fresh process that processes one file once")
    peaks = []
    for f in files:
        recs, _, _ = run_proc([args.ours, "rss", os.path.join(args.corpus, f)])
        peaks.append((recs[0]["max_rss_kib"], recs[0]["baseline_kib"], f))
    peaks.sort(reverse=True)
    for kib, base, f in peaks[:3]:
        print(f"  {kib / 1024:7.1f} MB  (the process before decoding: {base / 1024:.1f} MB)  {f}")
    recs, _, _ = run_proc([args.ours, "grow", manifest, "8"])
    print("  RSS after each of 8 passes over the corpus in one process (MB): "
          + " ".join(f"{r['rss_kib'] / 1024:.1f}" for r in recs))
    print(f"  peak over the 8 passes: {recs[-1]['max_rss_kib'] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
