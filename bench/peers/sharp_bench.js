// sharp side of the pipeline benchmark (bench/README.md). Same workload as the Rust
// pipeline (shared/BENCH.md): decode (GIF: first frame; JPEG: libvips shrink-on-load),
// EXIF orientation, photo fit inside 1024 (never upscaled, Lanczos3) re-encoded in the same
// family (JPEG q85 4:2:0 baseline; PNG; GIF -> PNG), thumbnail 64x64 cover centre crop
// Lanczos3 made from the reduced photo, JPEG q85 (PNG when alpha). Outputs stay in memory.
//
//   node sharp_bench.js run MANIFEST            -> one JSON line per file
//   node sharp_bench.js write MANIFEST OUTDIR   -> the outputs, for the equivalence check
// Run with UV_THREADPOOL_SIZE=1; sharp.concurrency(1) and sharp.cache(false) are set here.
'use strict';
const fs = require('fs');
const path = require('path');
const sharp = require(path.join(process.env.PEERS_DIR || path.join(__dirname, '..', '.peers'), 'node_modules', 'sharp'));

sharp.concurrency(1);
sharp.cache(false);
sharp.simd(true);

const MAX = 1024, THUMB = 64;
const JPEG = { quality: 85, chromaSubsampling: '4:2:0', progressive: false, mozjpeg: false, optimiseCoding: false };
// Fast zlib level for every implementation (ours uses the png crate's Fast).
const PNG = { compressionLevel: 1, adaptiveFiltering: false };

async function work(bytes) {
  const input = sharp(bytes, { failOn: 'none', limitInputPixels: false, animated: false });
  const meta = await input.metadata();
  const isJpeg = meta.format === 'jpeg';
  const { data, info } = await input
    .rotate()
    .resize(MAX, MAX, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const alpha = info.channels === 4 || info.channels === 2;
  const photo = isJpeg
    ? await sharp(data, raw).jpeg(JPEG).toBuffer({ resolveWithObject: true })
    : await sharp(data, raw).png(PNG).toBuffer({ resolveWithObject: true });
  const t = sharp(data, raw).resize(THUMB, THUMB, { fit: 'cover', position: 'centre', kernel: 'lanczos3' });
  const thumb = alpha
    ? await t.png(PNG).toBuffer({ resolveWithObject: true })
    : await t.jpeg(JPEG).toBuffer({ resolveWithObject: true });
  return { photo, thumb, photoExt: isJpeg ? 'jpg' : 'png', thumbExt: alpha ? 'png' : 'jpg' };
}

function readManifest(p) {
  return fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    const [file, reps] = l.split('\t');
    return { file, name: path.basename(file), reps: Math.max(1, parseInt(reps || '1', 10)), bytes: fs.readFileSync(file) };
  });
}

function cpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main() {
  const [mode, manifest, outDir] = process.argv.slice(2);
  const inputs = readManifest(manifest);
  if (mode === 'run') {
    for (const inp of inputs) {
      let last;
      const t0 = cpu();
      try {
        for (let i = 0; i < inp.reps; i++) last = await work(inp.bytes);
        const c = cpu() - t0;
        console.log(JSON.stringify({ file: inp.name, reps: inp.reps, cpu: c,
          photo: [last.photo.info.width, last.photo.info.height],
          thumb: [last.thumb.info.width, last.thumb.info.height] }));
      } catch (e) {
        console.log(JSON.stringify({ file: inp.name, reps: inp.reps, cpu: cpu() - t0, error: String(e) }));
      }
    }
    const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    console.log(JSON.stringify({ vmhwm_kib: hwm ? Number(hwm[1]) : 0 }));
  } else if (mode === 'write') {
    fs.mkdirSync(outDir, { recursive: true });
    for (const inp of inputs) {
      try {
        const r = await work(inp.bytes);
        fs.writeFileSync(path.join(outDir, `${inp.name}.photo.${r.photoExt}`), r.photo.data);
        fs.writeFileSync(path.join(outDir, `${inp.name}.thumb.${r.thumbExt}`), r.thumb.data);
      } catch (e) {
        console.error(`${inp.name}: ${e}`);
      }
    }
  } else {
    console.error('usage: node sharp_bench.js run|write MANIFEST [OUTDIR]');
    process.exit(2);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
