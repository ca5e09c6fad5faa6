"""Pillow side of the pipeline benchmark (bench/README.md), and the decode floor.

Same workload as the Rust pipeline (shared/BENCH.md): decode (GIF: first frame; JPEG:
`draft`, i.e. libjpeg-turbo's DCT-domain scaled decode, to the smallest scale that still
covers the outputs), EXIF orientation, photo fit inside 1024 (never upscaled, Lanczos3)
re-encoded in the same family (JPEG q85 4:2:0 baseline; PNG; GIF -> PNG), thumbnail 64x64
cover centre crop (Lanczos3, `ImageOps.fit`) made from the reduced photo, JPEG q85 (PNG
when alpha). Outputs stay in memory.

    python pillow_bench.py run MANIFEST            one JSON line per file
    python pillow_bench.py write MANIFEST OUTDIR   the outputs, for the equivalence check
    python pillow_bench.py floor MANIFEST          JPEG only: draft('RGB', (w/8, h/8)) + load,
                                                   libjpeg-turbo's 1/8-scale decode alone
"""

import io
import json
import os
import sys
import time

from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = None
MAX, THUMB = 1024, 64
LANCZOS = Image.Resampling.LANCZOS


def fit_within(w, h, m):
    if w <= m and h <= m:
        return w, h
    long, short = max(w, h), min(w, h)
    s = max(1, (short * m + long // 2) // long)
    return (m, s) if w >= h else (s, m)


def cover_needs(w, h, tw, th):
    if tw * h >= th * w:
        nw, nh = tw, -(-h * tw // w)
    else:
        nw, nh = -(-w * th // h), th
    return min(nw, w), min(nh, h)


def work(data):
    im = Image.open(io.BytesIO(data))
    fmt = im.format
    if fmt == "JPEG":
        w, h = im.size
        pw, ph = fit_within(w, h, MAX)
        tw, th = cover_needs(w, h, THUMB, THUMB)
        # draft picks the smallest libjpeg scale whose output is at least this size.
        im.draft("RGB" if im.mode not in ("L",) else "L", (max(pw, tw), max(ph, th)))
    ImageOps.exif_transpose(im, in_place=True)  # loads; GIF: the first frame
    if im.mode not in ("L", "RGB", "RGBA"):
        has_alpha = im.mode in ("LA", "PA", "RGBa", "La") or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else ("L" if im.mode in ("I;16", "I", "1") else "RGB"))
    if im.mode == "RGBA" and im.getchannel("A").getextrema() == (255, 255):
        im = im.convert("RGB")
    size = fit_within(im.width, im.height, MAX)
    photo = im if size == im.size else im.resize(size, LANCZOS)
    thumb = ImageOps.fit(photo, (THUMB, THUMB), LANCZOS, centering=(0.5, 0.5))
    pbuf, tbuf = io.BytesIO(), io.BytesIO()
    if fmt == "JPEG":
        photo.convert("RGB" if photo.mode == "RGBA" else photo.mode).save(
            pbuf, "JPEG", quality=85, subsampling=2, optimize=False, progressive=False)
        pext = "jpg"
    else:
        photo.save(pbuf, "PNG", compress_level=1)
        pext = "png"
    if thumb.mode == "RGBA":
        thumb.save(tbuf, "PNG", compress_level=1)
        text = "png"
    else:
        thumb.save(tbuf, "JPEG", quality=85, subsampling=2, optimize=False, progressive=False)
        text = "jpg"
    return (photo.size, pbuf.getvalue(), pext), (thumb.size, tbuf.getvalue(), text)


def floor(data):
    im = Image.open(io.BytesIO(data))
    if im.format != "JPEG":
        return None
    w, h = im.size
    im.draft("RGB" if im.mode != "L" else "L", (w // 8, h // 8))
    im.load()
    return im.size


def vmhwm_kib():
    # Peak RSS of this process (getrusage's ru_maxrss survives execve: it would start at
    # the parent's).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def manifest(path):
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            file, _, reps = line.rstrip("\n").partition("\t")
            with open(file, "rb") as g:
                out.append((file, os.path.basename(file), max(1, int(reps or 1)), g.read()))
    return out


def main():
    mode, man = sys.argv[1], sys.argv[2]
    inputs = manifest(man)
    if mode in ("run", "floor"):
        fn = work if mode == "run" else floor
        for _, name, reps, data in inputs:
            t0 = time.process_time()
            try:
                for _ in range(reps):
                    r = fn(data)
                cpu = time.process_time() - t0
                if r is None:
                    continue
                rec = {"file": name, "reps": reps, "cpu": cpu}
                if mode == "run":
                    rec["photo"], rec["thumb"] = list(r[0][0]), list(r[1][0])
                else:
                    rec["decoded"] = list(r)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                rec = {"file": name, "reps": reps, "cpu": time.process_time() - t0, "error": repr(e)}
            print(json.dumps(rec), flush=True)
        print(json.dumps({"vmhwm_kib": vmhwm_kib()}), flush=True)
    elif mode == "write":
        out = sys.argv[3]
        os.makedirs(out, exist_ok=True)
        for _, name, _, data in inputs:
            try:
                for what, (_, b, ext) in zip(("photo", "thumb"), work(data)):
                    with open(os.path.join(out, f"{name}.{what}.{ext}"), "wb") as f:
                        f.write(b)
            except Exception as e:  # noqa: BLE001
                print(f"{name}: {e!r}", file=sys.stderr)
    else:
        sys.exit("usage: pillow_bench.py run|write|floor MANIFEST [OUTDIR]")


if __name__ == "__main__":
    main()
