// The browser suite: Debian's Chromium (headless, through playwright-core, no browser
// download) against `avatarium serve` and two loopback "sites" (examples/web/server.js),
// one allowed by the avatarium site's allowed_origins and one not. Run by
// scripts/test-browser.sh, which sets AVATARIUM_CLI_BIN and BROWSER_OUT.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.AVATARIUM_CLI_BIN;
const OUT = process.env.BROWSER_OUT || path.join(ROOT, "target/browser");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const API_KEY = "3_browser-site";
const SECRET = Buffer.from("the browser suite's site secret").toString("base64");

const children = [];
let passed = 0;
let failed = 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts a child that prints "listening on <url>" first; resolves to the URL.
async function start(cmd, args, env, log) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", fs.openSync(log, "w")] });
  children.push(child);
  let buf = "";
  for await (const chunk of child.stdout) {
    buf += chunk;
    const m = buf.match(/listening on (\S+)/);
    if (m) return m[1];
  }
  throw new Error(`${cmd} did not start: see ${log}`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function test(name, body) {
  const t0 = Date.now();
  try {
    await body();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

async function rest(base, method, params) {
  const body = new URLSearchParams({ apiKey: API_KEY, secret: SECRET, ...params });
  return (await fetch(`${base}/accounts.${method}`, { method: "POST", body })).json();
}

async function main() {
  check(BIN && fs.existsSync(BIN), `AVATARIUM_CLI_BIN (${BIN}) is the avatarium binary`);
  fs.mkdirSync(OUT, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "avatarium-browser-"));
  const [sitePort, evilPort] = [await freePort(), await freePort()];
  const site = `http://127.0.0.1:${sitePort}`;
  const evil = `http://127.0.0.1:${evilPort}`;
  fs.writeFileSync(path.join(work, "avatarium.toml"), [
    `data_dir = ${JSON.stringify(path.join(work, "data"))}`,
    "[[sites]]",
    `api_key = "${API_KEY}"`,
    `secret = "${SECRET}"`,
    `allowed_origins = ["${site}"]`,
    "demo = true",
    // The sample's photo comes from the loopback sites: allowed for exactly their ports.
    "allow_loopback = true",
    `fetch_allowed_ports = [${sitePort}, ${evilPort}]`,
    "",
  ].join("\n"));
  const base = await start(BIN, ["serve", "--config", path.join(work, "avatarium.toml"),
    "--listen", "127.0.0.1:0", "--allow-loopback-plain-http"], { AVATARIUM_LOG: "info" },
    path.join(OUT, "server.log"));
  const siteEnv = { AVATARIUM_URL: base, API_KEY, SECRET };
  const web = path.join(ROOT, "examples/web/server.js");
  await start("node", [web], { ...siteEnv, PORT: String(sitePort) }, path.join(OUT, "site.log"));
  await start("node", [web], { ...siteEnv, PORT: String(evilPort) }, path.join(OUT, "evil-site.log"));

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("pageerror", (e) => console.log(`page error: ${e}`));

    await test("the seed's sample runs verbatim on a site's page", async () => {
      await page.goto(`${site}/login?uid=alice`);
      check(page.url() === `${site}/`, `logged in and back on the page: ${page.url()}`);
      const cookie = (await context.cookies(site)).find((c) => c.name === `glt_${API_KEY}`);
      check(cookie && !cookie.httpOnly, "the session cookie is set and script-readable");
      await page.click("#import");
      await page.waitForFunction(() => document.getElementById("out").textContent.includes("errorCode"));
      const r = JSON.parse(await page.textContent("#out"));
      check(r.errorCode === 0, `errorCode ${r.errorCode}: ${r.errorDetails}`);
      check(r.UID === "alice", `UID ${r.UID}`);
    });

    await test("publish, then getAccountInfo's thumbnail loads at 64x64", async () => {
      const size = await page.evaluate(async () => {
        const p = await gigya.accounts.publishProfilePhoto({ context: { step: "publish" } });
        if (p.errorCode !== 0 || p.context.step !== "publish") return { error: p };
        const info = await gigya.accounts.getAccountInfo({});
        const img = new Image();
        img.src = info.profile.thumbnailURL;
        await img.decode();
        return { uid: info.UID, w: img.naturalWidth, h: img.naturalHeight, url: img.src };
      });
      check(!size.error, JSON.stringify(size.error));
      check(size.uid === "alice" && size.w === 64 && size.h === 64, JSON.stringify(size));
    });

    await test("a file from a real <input type=file> uploads; the callback runs once", async () => {
      await page.evaluate(() => {
        const input = document.createElement("input");
        input.type = "file";
        input.id = "file";
        document.body.appendChild(input);
      });
      await page.setInputFiles("#file", path.join(ROOT, "conformance/files/photo.jpg"));
      const r = await page.evaluate(() => new Promise((resolve) => {
        let calls = 0;
        const ret = avatarium.accounts.setProfilePhoto({
          photo: document.getElementById("file").files[0], publish: true, context: "upload",
          callback: (response) => { calls++; setTimeout(() => resolve({ response, calls, ret: String(ret) }), 300); },
        });
      }));
      check(r.calls === 1 && r.ret === "undefined", `callback calls ${r.calls}, returned ${r.ret}`);
      check(r.response.errorCode === 0, JSON.stringify(r.response));
      check(r.response.context === "upload" && /\.jpg$/.test(r.response.photoURL), JSON.stringify(r.response));
    });

    await test("a page of an origin not allowed gets nothing done", async () => {
      const other = await context.newPage();
      await other.goto(`${evil}/login?uid=victim`);
      await other.click("#import");
      await other.waitForFunction(() => document.getElementById("out").textContent.includes("errorCode"));
      const r = JSON.parse(await other.textContent("#out"));
      check(r.errorCode === 500026, `the page got ${r.errorCode}`);
      const pub = await rest(base, "publishProfilePhoto", { UID: "victim" });
      check(pub.errorCode === 409010, `nothing pending for victim: ${pub.errorCode}`);
      await other.close();
    });

    await test("logout ends the session", async () => {
      const r = await page.evaluate(async () => {
        const token = decodeURIComponent(document.cookie.split("; ").find((c) => c.startsWith("glt_")).split("=")[1]);
        const out = await gigya.accounts.logout({});
        const after = await gigya.accounts.getAccountInfo({ login_token: token });
        return { out: out.errorCode, after: after.errorCode, cookieLeft: document.cookie.includes("glt_") };
      });
      check(r.out === 0 && r.after === 403005 && !r.cookieLeft, JSON.stringify(r));
    });

    await test("a registration page: initRegistration with the apiKey alone, import, finalize", async () => {
      const r = await page.evaluate((photoUrl) => new Promise((resolve) => {
        gigya.accounts.initRegistration({
          context: "reg",
          callback: async (reg) => {
            if (reg.errorCode !== 0 || !reg.regToken) return resolve({ reg });
            const imp = await gigya.accounts.importProfilePhoto({ regToken: reg.regToken, URL: photoUrl, publish: true });
            const fin = await gigya.accounts.finalizeRegistration({ regToken: reg.regToken });
            const after = await gigya.accounts.getAccountInfo({ regToken: reg.regToken });
            resolve({ context: reg.context, imp: imp.errorCode, thumb: imp.thumbnailURL, fin: fin.errorCode,
              registered: fin.isRegistered, after: after.errorCode });
          },
        });
      }), `${site}/photo.png`);
      check(!r.reg, `initRegistration: ${JSON.stringify(r.reg)}`);
      check(r.context === "reg" && r.imp === 0 && /\/photos\//.test(r.thumb), JSON.stringify(r));
      check(r.fin === 0 && r.registered === true && r.after === 403005, JSON.stringify(r));
      // A page of an origin the site does not allow registers nobody.
      const other = await context.newPage();
      await other.goto(`${evil}/`);
      const refused = await other.evaluate(() => gigya.accounts.initRegistration({}));
      check(refused.errorCode === 500026 && !refused.regToken, JSON.stringify(refused));
      await other.close();
    });

    await test("the demo page publishes and shows readable errors; screenshot saved", async () => {
      const demo = await context.newPage();
      await demo.setViewportSize({ width: 900, height: 820 });
      await demo.goto(`${base}/demo?apiKey=${API_KEY}`);
      await demo.fill("#url", "http://127.0.0.1:1/nothing.png");
      await demo.click("#import");
      await demo.waitForFunction(() => document.getElementById("status").className === "error");
      const err = await demo.textContent("#status");
      check(err.includes("cannot be fetched") && err.includes("404004"), err);
      await demo.fill("#url", `${site}/photo.png`);
      await demo.click("#import");
      await demo.waitForFunction(() => !document.getElementById("publish").disabled);
      await demo.click("#publish");
      await demo.waitForFunction(() => document.querySelector("#thumb figcaption").textContent.includes("real size"));
      const caption = await demo.textContent("#thumb figcaption");
      check(caption.includes("64×64"), caption);
      await demo.screenshot({ path: path.join(OUT, "demo.png"), fullPage: true });
    });

    await test("with thumbnailScales, the demo's thumbnail has a srcset and a 2x screen loads the 2x file", async () => {
      const set = await rest(base, "setPolicies", { profilePhoto: JSON.stringify({ thumbnailScales: [1, 2, 3] }) });
      check(set.errorCode === 0, JSON.stringify(set));
      const retina = await browser.newContext({ deviceScaleFactor: 2 });
      try {
        const demo = await retina.newPage();
        await demo.goto(`${base}/demo?apiKey=${API_KEY}`);
        await demo.fill("#url", `${site}/photo.png`);
        await demo.click("#import");
        await demo.waitForFunction(() => !document.getElementById("publish").disabled);
        await demo.click("#publish");
        await demo.waitForFunction(() => document.querySelector("#thumb figcaption").textContent.includes("real size"));
        const img = await demo.evaluate(async () => {
          const i = document.querySelector("#thumb img");
          // naturalWidth is divided by the chosen density: the file's own size is read apart.
          const file = await createImageBitmap(await (await fetch(i.currentSrc)).blob());
          return { srcset: i.srcset, src: i.src, current: i.currentSrc, file: file.width, shown: i.width };
        });
        const entries = img.srcset.split(", ").map((e) => e.split(" "));
        check(entries.length === 3 && entries.map((e) => e[1]).join() === "1x,2x,3x", JSON.stringify(img));
        // The 2x file, drawn at the 1x size.
        check(img.current === entries[1][0] && img.file === 128 && img.shown === 64, JSON.stringify(img));
        check(img.src === entries[0][0], JSON.stringify(img));
      } finally {
        await retina.close();
        await rest(base, "setPolicies", { profilePhoto: JSON.stringify({ thumbnailScales: [1] }) });
      }
    });
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  for (const c of children) c.kill("SIGTERM");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
