"""conformance/cases.json through ``Client.call`` (and ``call_async``), with the same
expectations as core/tests/conformance.rs (format in conformance/README.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import avatarium

from .conftest import FILES, REPO, PhotoServer

CASES = json.loads((REPO / "conformance" / "cases.json").read_text())["cases"]
_MISSING = object()


def lookup(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{b64:([^}]+)\}", value)
        if m:
            return base64.b64encode((FILES / m.group(1)).read_bytes()).decode()
        for k, v in variables.items():
            value = value.replace("${" + k + "}", v)
        return value
    if isinstance(value, list):
        return [substitute(x, variables) for x in value]
    if isinstance(value, dict):
        return {k: substitute(x, variables) for k, x in value.items()}
    return value


def check_envelope(r: dict[str, Any], ctx: str) -> None:
    call_id = r.get("callId", "")
    assert isinstance(call_id, str) and re.fullmatch(r"[0-9a-fA-F]{32}", call_id), f"{ctx}: callId {call_id!r}"
    time = r.get("time", "")
    assert isinstance(time, str) and len(time) == 24 and time.endswith("Z") and time[19] == ".", f"{ctx}: time {time!r}"
    assert r.get("apiVersion") == 2, ctx
    if r.get("errorCode") != 0:
        assert isinstance(r.get("errorMessage"), str) and isinstance(r.get("errorDetails"), str), f"{ctx}: {r}"


def same(got: Any, want: Any) -> bool:
    """JSON equality: unlike Python, ``true`` is not ``1``."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    return bool(got == want)


def run_case(
    index: int,
    case: dict[str, Any],
    server: PhotoServer,
    data_dir: Path,
    call: Callable[[avatarium.Client, str, Any], dict[str, Any]],
) -> None:
    name = case["name"]
    with avatarium.Client(
        data_dir=data_dir, allow_loopback=True, fetch_allowed_ports=[server.port], max_photo_bytes=100_000
    ) as client:
        variables = {"base_url": server.base_url, "uid": f"conformance-{index}"}
        for j, step in enumerate(case["steps"]):
            ctx = f"case {name!r} step {j}"
            r = call(client, step["method"], substitute(step["params"], variables))
            assert isinstance(r, dict), ctx
            check_envelope(r, ctx)
            for path, want in step.get("expect", {}).items():
                want = substitute(want, variables)
                got = lookup(r, path)
                assert got is not _MISSING and same(got, want), f"{ctx}: {path}={got!r}, want {want!r} in {r}"
            for key, must_exist in (("present", True), ("absent", False)):
                for path in step.get(key, []):
                    assert (lookup(r, path) is not _MISSING) == must_exist, f"{ctx}: {key} {path} in {r}"
            for key in ("endsWith", "contains"):
                for path, text in step.get(key, {}).items():
                    got = lookup(r, path)
                    assert isinstance(got, str), f"{ctx}: {path} missing in {r}"
                    ok = got.endswith(text) if key == "endsWith" else text in got
                    assert ok, f"{ctx}: {path}={got!r} should {key} {text!r}"
            for var, path in step.get("save", {}).items():
                v = lookup(r, path)
                assert v is not _MISSING, f"{ctx}: save {path} in {r}"
                variables[var] = v if isinstance(v, str) else json.dumps(v)


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_case_blocking(index: int, server: PhotoServer, tmp_path: Path) -> None:
    run_case(index, CASES[index], server, tmp_path, lambda c, m, p: c.call(m, p))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_case_async(index: int, server: PhotoServer, tmp_path: Path) -> None:
    run_case(index, CASES[index], server, tmp_path, lambda c, m, p: asyncio.run(c.call_async(m, p)))
