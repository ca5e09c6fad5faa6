"""Doctored copies of real answers must fail validation against docs/openapi.yaml: a field of
the wrong type, a required field removed, a field no method sends, a code whose status does
not match. The untouched answer must pass, so a failure is the doctoring's."""

import copy
import json

from openapi_core.testing import MockRequest, MockResponse


def validates(openapi, base, path, body):
    request = MockRequest(base, "GET", path, args={"apiKey": "k", "secret": "s"})
    response = MockResponse(json.dumps(body).encode(), status_code=200,
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Vary": "Origin"},
                            content_type="application/json")
    try:
        openapi.validate_response(request, response)
        return True
    except Exception:
        return False


def doctorings(path, ok, body):
    """(what, doctored body) pairs for one real answer."""
    def changed(f):
        b = copy.deepcopy(body)
        f(b)
        return b
    out = [
        ("callId removed", changed(lambda b: b.pop("callId"))),
        ("errorCode as text", changed(lambda b: b.update(errorCode=str(b["errorCode"])))),
        ("time without milliseconds", changed(lambda b: b.update(time=b["time"][:19] + "Z"))),
        ("a field no method sends", changed(lambda b: b.update(extra=1))),
        ("apiVersion 3", changed(lambda b: b.update(apiVersion=3))),
    ]
    if not ok:
        out += [
            ("errorDetails removed", changed(lambda b: b.pop("errorDetails"))),
            ("statusCode not the code's", changed(lambda b: b.update(statusCode=500))),
            ("an unknown errorCode", changed(lambda b: b.update(errorCode=400001))),
            ("errorMessage not the code's", changed(lambda b: b.update(errorMessage="Oops"))),
        ]
    elif path == "/accounts.getAccountInfo":
        out += [
            ("isRegistered as text", changed(lambda b: b.update(isRegistered="true"))),
            ("profile removed", changed(lambda b: b.pop("profile"))),
            ("photoURL without thumbnailURL", changed(lambda b: b.update(profile={"photoURL": "http://x/p.png"}))),
            ("errorMessage on a success", changed(lambda b: b.update(errorMessage="x"))),
        ]
    elif path == "/accounts.getPolicies":
        out += [
            ("thumbnailWidth as text", changed(lambda b: b["profilePhoto"].update(thumbnailWidth="64"))),
            ("thumbnailHeight removed", changed(lambda b: b["profilePhoto"].pop("thumbnailHeight"))),
        ]
    elif path == "/accounts.initRegistration":
        out += [("regToken removed", changed(lambda b: b.pop("regToken"))),
                ("regToken a number", changed(lambda b: b.update(regToken=1)))]
    elif path in ("/accounts.importProfilePhoto", "/accounts.setProfilePhoto"):
        out += [("UID removed", changed(lambda b: b.pop("UID"))),
                ("UID a number", changed(lambda b: b.update(UID=7)))]
    elif path == "/accounts.notifyLogin":
        out += [("cookieValue removed", changed(lambda b: b["sessionInfo"].pop("cookieValue"))),
                ("sessionInfo as text", changed(lambda b: b.update(sessionInfo="glt_x=1")))]
    elif path == "/accounts.publishProfilePhoto":
        out += [("thumbnailURL removed", changed(lambda b: b.pop("thumbnailURL")))]
    return out


def check_doctored(openapi, base, samples):
    """Every doctored copy of every sample is refused; returns how many were tried."""
    must = {("/accounts.getAccountInfo", True), ("/accounts.getAccountInfo", False),
            ("/accounts.getPolicies", True), ("/accounts.initRegistration", True),
            ("/accounts.importProfilePhoto", True), ("/accounts.publishProfilePhoto", True),
            ("/accounts.notifyLogin", True)}
    missing = must - samples.keys()
    assert not missing, f"no real answer to doctor for {sorted(missing)}"
    tried = 0
    for (path, ok), body in sorted(samples.items()):
        if not path.startswith("/accounts."):
            continue
        assert validates(openapi, base, path, body), f"{path}: the real answer does not validate: {body}"
        for what, doctored in doctorings(path, ok, body):
            assert not validates(openapi, base, path, doctored), \
                f"{path}: {what} still validates: {doctored}"
            tried += 1
    return tried
