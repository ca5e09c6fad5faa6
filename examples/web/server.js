// A minimal site that uses avatarium from its pages: its backend logs a user in with
// accounts.notifyLogin (apiKey + secret, server to server), sets the session cookie, and
// its page runs the Gigya sample `gigya.accounts.importProfilePhoto` unchanged.
// Node >= 18, no dependencies.
//
//   AVATARIUM_URL=http://127.0.0.1:8080 API_KEY=3_example SECRET=<base64> \
//   PHOTO_URL=https://example.com/me.jpg PORT=8001 node examples/web/server.js
//
// Then open http://127.0.0.1:8001/login?uid=alice (the site's own login would be here).
"use strict";
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");

const AVATARIUM_URL = process.env.AVATARIUM_URL || "http://127.0.0.1:8080";
const API_KEY = process.env.API_KEY || "";
const SECRET = process.env.SECRET || "";
const PORT = Number(process.env.PORT || 8001);
const PHOTO = path.join(__dirname, "..", "photos", "astronaut.png");

function page(photoUrl) {
  const template = fs.readFileSync(path.join(__dirname, "index.html"), "utf8");
  return template
    .replaceAll("{{AVATARIUM_URL}}", AVATARIUM_URL)
    .replaceAll("{{API_KEY}}", encodeURIComponent(API_KEY))
    .replaceAll("{{PHOTO_URL}}", photoUrl.replaceAll("'", "%27"));
}

// The one call a site's backend makes: who logged in. The answer's sessionInfo is the
// cookie the SDK reads.
async function notifyLogin(uid) {
  const body = new URLSearchParams({ apiKey: API_KEY, secret: SECRET, siteUID: uid });
  const res = await fetch(`${AVATARIUM_URL}/accounts.notifyLogin`, { method: "POST", body });
  return res.json();
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  try {
    // EXAMPLE ONLY: anyone may log in as anyone here (`/login?uid=…`, a GET, no password).
    // A real site calls notifyLogin only after its own login has checked the user, from a
    // POST protected against cross-site requests.
    if (url.pathname === "/login") {
      const r = await notifyLogin(url.searchParams.get("uid") || "");
      if (r.errorCode !== 0) {
        res.writeHead(403, { "content-type": "text/plain" }).end(`login failed: ${r.errorCode}`);
        return;
      }
      const { cookieName, cookieValue } = r.sessionInfo;
      // Script-readable (the SDK sends its value), this site only.
      res.writeHead(302, {
        "set-cookie": `${cookieName}=${encodeURIComponent(cookieValue)}; Path=/; SameSite=Lax`,
        location: "/",
      }).end();
    } else if (url.pathname === "/") {
      const photoUrl = process.env.PHOTO_URL || `http://${req.headers.host}/photo.png`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page(photoUrl));
    } else if (url.pathname === "/photo.png") {
      res.writeHead(200, { "content-type": "image/png" }).end(fs.readFileSync(PHOTO));
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(502, { "content-type": "text/plain" }).end(String(e));
  }
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
