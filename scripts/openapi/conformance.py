"""docs/openapi.yaml against a real `avatarium serve`: every conformance case
(conformance/cases.json) is sent over REST, as cli/tests/rest_conformance.rs sends it (POST
forms with apiKey + secret, then signed GETs; uploads too large for a URL as signed POSTs),
and each request and each real response is validated against the document by path and
method (openapi-core). The errorCode must be the case's, so a runner that maps a case wrong
is noticed. A few calls beyond the cases cover what they do not use (JSONP,
httpStatusCodes, a multipart upload, a photo, the SDK files), and doctored responses must
fail validation, so this check can fail.

    python conformance.py AVATARIUM_BIN   (run by scripts/test-openapi.sh)
"""

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openapi_core import Config, OpenAPI
from werkzeug.datastructures import Headers
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import ApiKeyProvider
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.testing import MockRequest, MockResponse

from doctored import check_doctored

# openapi-core logs every oneOf branch that did not match: noise here.
logging.disable(logging.WARNING)

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "conformance" / "files"
MAX_GET_FORM = 32_000  # beyond it a signed call goes as POST (a URL holds ~64 KiB)
EXTRA = "extra"  # the site of the calls beyond the cases: browser pages allowed, a demo
PAGE_ORIGIN = "https://app.example"


# ---- the origin photos are imported from (conformance/README.md) ----

class Origin(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/")
        path = FILES / name
        if "/" in name or not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


# ---- credentials may come in the form body too ----

class BodyParams:
    """The form body's parameters of the request being validated: OpenAPI can name only
    the query string, a header or a cookie for an apiKey scheme, but the server reads the
    secret, the signature and the apiKey from the body as well (docs/openapi.yaml says so)."""

    current: dict = {}


class QueryOrBodyProvider(ApiKeyProvider):
    def __call__(self, parameters):
        name = (self.scheme / "name").read_str()
        if name in parameters.query:
            return parameters.query[name]
        if name in BodyParams.current:
            return BodyParams.current[name]
        raise SecurityProviderError("Missing api key parameter.")


class Factory(SecurityProviderFactory):
    PROVIDERS = {**SecurityProviderFactory.PROVIDERS, "apiKey": QueryOrBodyProvider}


def load_openapi():
    return OpenAPI.from_file_path(
        str(ROOT / "docs" / "openapi.yaml"),
        config=Config(security_provider_factory=Factory()),
    )


# ---- the server under test ----

def enc(s):
    return urllib.parse.quote(s, safe="~")


def sign(http_method, url, pairs, secret_b64):
    base_params = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(pairs) if k != "sig")
    base = f"{http_method}&{enc(url)}&{enc(base_params)}"
    mac = hmac.new(base64.b64decode(secret_b64), base.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Server:
    def __init__(self, binary, top, sites, work):
        toml = f'data_dir = "{work}/data"\n{top}\n'
        for api_key, secret in sites:
            toml += f'\n[[sites]]\napi_key = "{api_key}"\nsecret = "{secret}"\n'
            if api_key == EXTRA:
                toml += f'allowed_origins = ["{PAGE_ORIGIN}"]\ndemo = true\n'
        (work / "avatarium.toml").write_text(toml)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AVATARIUM_")}
        self.log = open(work / "server.log", "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", str(work / "avatarium.toml"), "--listen", "127.0.0.1:0",
             "--allow-loopback-plain-http", "--rate-limit", "0", "--address-rate-limit", "0"],
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on http://"):
            self.stop()
            sys.exit(f"the server did not start: {line!r}\n{(work / 'server.log').read_text()}")
        self.base = line.removeprefix("listening on ")
        self.host, port = self.base.removeprefix("http://").split(":")
        self.port = int(port)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def send(self, method, target, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, target, body=body or None, headers=headers or {})
            r = conn.getresponse()
            return Reply(r.status, Headers(r.getheaders()), r.read())
        finally:
            conn.close()


# ---- one request, sent and validated ----

class Checker:
    def __init__(self, server, openapi):
        self.server, self.openapi = server, openapi
        self.validated = 0
        self.refused_by_document = []
        # One real JSON answer per (path, success or refusal), for the doctored copies.
        self.samples = {}

    def call(self, http_method, path, query=(), form=None, multipart=None, headers=None):
        """Sends a request, validates request and response; returns (reply, request errors)."""
        target = path + ("?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote) if query else "")
        body, content_type = b"", None
        if form is not None:
            body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote).encode()
            content_type = "application/x-www-form-urlencoded"
        elif multipart is not None:
            body, content_type = multipart_body(multipart)
        sent_headers = dict(headers or {})
        if content_type:
            sent_headers["Content-Type"] = content_type
        reply = self.server.send(http_method, target, body, sent_headers)

        request = MockRequest(self.server.base, http_method, path, args=dict(query),
                              headers=sent_headers, data=body,
                              content_type=content_type or "application/x-www-form-urlencoded")
        BodyParams.current = dict(form or {})
        request_errors = self.errors(lambda: self.openapi.validate_request(request))
        mime = reply.headers.get("Content-Type", "").split(";")[0]
        # openapi-core hands a text body to the schema as bytes: give it the text.
        data = reply.body.decode() if mime.startswith("text/") else reply.body
        response = MockResponse(data, status_code=reply.status, headers=reply.headers, content_type=mime)
        response_errors = self.errors(lambda: self.openapi.validate_response(request, response))
        jsonp = re.fullmatch(r"/\*\*/[\w$.]+\((.*)\);", data, re.S) if mime == "text/javascript" else None
        if jsonp and not response_errors:
            # The envelope inside a JSONP answer is the JSON one.
            inner = MockResponse(jsonp.group(1).encode(), status_code=reply.status,
                                 headers=reply.headers, content_type="application/json")
            response_errors = self.errors(lambda: self.openapi.validate_response(request, inner))
        if response_errors:
            raise AssertionError(f"{http_method} {path}: the response does not match the document:"
                                 f" {response_errors}\n{reply.status} {reply.headers}\n{reply.body[:2000]!r}")
        self.validated += 1
        if reply.headers.get("Content-Type", "").startswith("application/json") and reply.status == 200:
            body = json.loads(reply.body)
            if "errorCode" in body:  # an envelope (not /readyz's report)
                self.samples.setdefault((path, body["errorCode"] == 0), body)
        return reply, request_errors

    @staticmethod
    def errors(validate):
        try:
            validate()
            return None
        except Exception as e:  # openapi-core's validation errors, with their causes
            causes = [e] + list(getattr(e, "schema_errors", []) or [])
            cause = e.__cause__
            while cause is not None:
                causes.append(cause)
                causes.extend(getattr(cause, "schema_errors", []) or [])
                cause = cause.__cause__
            return "; ".join(f"{type(c).__name__}: {c}"[:300] for c in causes)


def multipart_body(parts):
    boundary = "oas" + os.urandom(8).hex()
    out = b""
    for name, value in parts:
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, bytes):
            out += (f'Content-Disposition: form-data; name="{name}"; filename="photo"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode() + value + b"\r\n"
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


# ---- the cases ----

def substitute(v, variables):
    if isinstance(v, str):
        m = re.fullmatch(r"\$\{b64:(.+)\}", v)
        if m:
            return base64.b64encode((FILES / m.group(1)).read_bytes()).decode()
        for k, val in variables.items():
            v = v.replace("${" + k + "}", val)
        return v
    if isinstance(v, list):
        return [substitute(x, variables) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, variables) for k, x in v.items()}
    return v


def wire(v):
    """A parameter's text on the wire: booleans and numbers as text, JSON values as JSON."""
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def lookup(r, path):
    """The value at a dotted path. `context` comes back as the text it was sent as, so a
    path into a text reads it as JSON."""
    cur = r
    for key in path.split("."):
        if isinstance(cur, str):
            try:
                cur = json.loads(cur)
            except ValueError:
                return None
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def run_cases(checker, server, cases, secrets, origin):
    photo_urls = []
    for mode in ("post", "get"):
        for i, case in enumerate(cases):
            api_key = f"{mode}{i}"
            variables = {"base_url": f"http://{origin}", "uid": f"oas-{mode}-{i}"}
            for j, step in enumerate(case["steps"]):
                where = f"{mode} case {case['name']!r} step {j}"
                method = step["method"]
                params = substitute(step.get("params", {}), variables)
                pairs = [("apiKey", api_key)] + [(k, wire(v)) for k, v in params.items()]
                path = "/" + method
                if mode == "post":
                    reply, req_errors = checker.call("POST", path, form=pairs + [("secret", secrets[api_key])])
                else:
                    pairs += [("timestamp", str(int(time.time()))), ("nonce", os.urandom(12).hex())]
                    http_method = "POST" if len(urllib.parse.urlencode(pairs)) > MAX_GET_FORM else "GET"
                    pairs.append(("sig", sign(http_method, server.base + path, pairs, secrets[api_key])))
                    if http_method == "GET":
                        reply, req_errors = checker.call("GET", path, query=pairs)
                    else:
                        reply, req_errors = checker.call("POST", path, form=pairs)
                assert reply.status == 200, f"{where}: HTTP {reply.status}"
                r = reply.json()
                want = substitute(step.get("expect", {}), variables)
                assert "errorCode" in want, f"{where}: the case names no errorCode"
                assert r["errorCode"] == want["errorCode"], \
                    f"{where}: errorCode {r['errorCode']}, the case expects {want['errorCode']}: {r}"
                for key, value in want.items():
                    assert lookup(r, key) == value, f"{where}: {key} is {lookup(r, key)!r}, not {value!r}"
                if req_errors is not None:
                    # The document calls the request invalid: the server must refuse it too.
                    assert r["errorCode"] != 0, f"{where}: the document refuses a request the server ran: {req_errors}"
                    checker.refused_by_document.append((where, r["errorCode"]))
                for var, p in step.get("save", {}).items():
                    v = lookup(r, p)
                    variables[var] = v if isinstance(v, str) else json.dumps(v)
                if isinstance(r.get("photoURL"), str):
                    photo_urls.append(r["photoURL"])
    return photo_urls


def run_extras(checker, server, api_key, secret, photo_url):
    """What the cases do not use: JSONP, httpStatusCodes, multipart, photos, the SDK."""
    photo = (FILES / "photo.png").read_bytes()
    # A multipart upload: the file raw, the apiKey in the query string.
    reply, errs = checker.call("POST", "/accounts.setProfilePhoto", query=[("apiKey", api_key)],
                               multipart=[("secret", secret), ("UID", "oas-extra"), ("publish", "true"),
                                          ("photo", photo)])
    assert errs is None, f"multipart upload: the document refuses it: {errs}"
    r = reply.json()
    assert r["errorCode"] == 0 and r["photoURL"], r
    # JSONP: the same envelope inside /**/cb(...);
    reply, errs = checker.call("GET", "/accounts.getAccountInfo",
                               query=[("apiKey", api_key), ("secret", secret), ("UID", "oas-extra"),
                                      ("format", "jsonp"), ("callback", "gigya.cb")])
    text = reply.body.decode()
    assert errs is None and text.startswith("/**/gigya.cb({"), text[:200]
    inner = json.loads(text[len("/**/gigya.cb("):-2])
    assert inner["errorCode"] == 0 and inner["profile"]["photoURL"], inner
    # httpStatusCodes=true: a refusal under its own status.
    reply, _ = checker.call("POST", "/accounts.getAccountInfo",
                            form=[("apiKey", api_key), ("secret", "d3Jvbmc="), ("UID", "x"),
                                  ("httpStatusCodes", "true")])
    assert reply.status == 403 and reply.json()["errorCode"] == 403010, (reply.status, reply.body)
    # Photos, and a conditional GET.
    path = urllib.parse.urlsplit(photo_url).path
    reply, _ = checker.call("GET", path)
    assert reply.status == 200 and reply.body[:4] == b"\x89PNG", (reply.status, reply.headers)
    reply, _ = checker.call("GET", path, headers={"If-None-Match": reply.headers["ETag"]})
    assert reply.status == 304, reply.status
    reply, _ = checker.call("GET", "/photos/" + path.split("/")[2] + "/" + "0" * 64 + ".png")
    assert reply.status == 404, reply.status
    for asset in ("/sdk.js", "/sdk.d.ts"):
        reply, _ = checker.call("GET", asset, query=[("apiKey", api_key)])
        assert reply.status == 200 and reply.body, asset
    reply, _ = checker.call("GET", "/demo", query=[("apiKey", api_key)])
    assert reply.status == 200 and b"<html" in reply.body.lower(), reply.status
    # Operations (docs/operate.md): served on the main listener by default.
    for path in ("/healthz", "/readyz", "/metrics"):
        reply, errs = checker.call("GET", path)
        assert errs is None and reply.status == 200, (path, errs, reply.status, reply.body[:200])
    assert b"avatarium_calls_total" in reply.body, reply.body[:200]
    # Sessions: notifyLogin from the site's server, then the page's calls with login_token.
    reply, errs = checker.call("POST", "/accounts.notifyLogin",
                               form=[("apiKey", api_key), ("secret", secret), ("siteUID", "oas-session")])
    r = reply.json()
    assert errs is None and r["errorCode"] == 0, (errs, r)
    token = r["sessionInfo"]["cookieValue"]
    page = {"Origin": PAGE_ORIGIN}
    reply, errs = checker.call("OPTIONS", "/accounts.getAccountInfo", query=[("apiKey", api_key)], headers=page)
    assert reply.status == 204 and reply.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN, reply.status
    reply, errs = checker.call("POST", "/accounts.getAccountInfo",
                               form=[("apiKey", api_key), ("login_token", token)], headers=page)
    assert errs is None and reply.json()["errorCode"] == 0, (errs, reply.body)
    reply, errs = checker.call("POST", "/accounts.logout",
                               form=[("apiKey", api_key), ("login_token", token)], headers=page)
    assert errs is None and reply.json()["errorCode"] == 0, (errs, reply.body)
    reply, _ = checker.call("POST", "/accounts.getAccountInfo",
                            form=[("apiKey", api_key), ("login_token", token)], headers=page)
    assert reply.json()["errorCode"] == 403005, reply.body
    # A page of another origin: refused, and its preflight too.
    reply, _ = checker.call("OPTIONS", "/accounts.getAccountInfo", query=[("apiKey", api_key)],
                            headers={"Origin": "https://evil.example"})
    assert reply.status == 403 and "Access-Control-Allow-Origin" not in reply.headers, reply.status
    reply, _ = checker.call("POST", "/accounts.getAccountInfo", form=[("apiKey", api_key), ("login_token", token)],
                            headers={"Origin": "https://evil.example"})
    assert reply.json()["errorCode"] == 403007, reply.body


def main():
    binary = sys.argv[1]
    doc = json.loads((ROOT / "conformance" / "cases.json").read_text())
    cases = doc["cases"]
    assert len(cases) >= 10, "too few conformance cases"
    openapi = load_openapi()

    origin_server = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin_server.serve_forever, daemon=True).start()
    origin = f"127.0.0.1:{origin_server.server_address[1]}"

    secrets = {}
    for i in range(len(cases)):
        for mode in ("post", "get"):
            secrets[f"{mode}{i}"] = base64.b64encode(f"secret of {mode}{i}".encode()).decode()
    secrets[EXTRA] = base64.b64encode(b"secret of the extra site").decode()
    top = (f"allow_loopback = true\nfetch_allowed_ports = [{origin_server.server_address[1]}]\n"
           "max_photo_bytes = 100000\n")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oas-") as work:
        server = Server(binary, top, secrets.items(), Path(work))
        try:
            checker = Checker(server, openapi)
            photo_urls = run_cases(checker, server, cases, secrets, origin)
            assert photo_urls, "no case published a photo"
            run_extras(checker, server, EXTRA, secrets[EXTRA], extra_photo(checker, secrets[EXTRA]))
            doctored = check_doctored(openapi, server.base, checker.samples)
        finally:
            server.stop()
            origin_server.shutdown()
    print(f"openapi: {checker.validated} real requests and responses validated against docs/openapi.yaml "
          f"in {time.monotonic() - started:.1f} s; {len(checker.refused_by_document)} requests the document "
          f"calls invalid, all refused by the server ({sorted({c for _, c in checker.refused_by_document})})")
    print(f"openapi: {doctored} doctored responses refused by the document")


def extra_photo(checker, secret):
    """Publishes a PNG for the extra site and returns its URL."""
    photo = base64.b64encode((FILES / "photo.png").read_bytes()).decode()
    reply, errs = checker.call("POST", "/accounts.setProfilePhoto",
                               form=[("apiKey", EXTRA), ("secret", secret), ("UID", "oas-photo"),
                                     ("photoBytes", photo), ("publish", "true")])
    r = reply.json()
    assert errs is None and r["errorCode"] == 0, (errs, r)
    return r["photoURL"]


if __name__ == "__main__":
    main()
