"""docs/openapi.yaml and the server agree: every documented route exists."""
import os
import uuid

import yaml

from conftest import ROOT

SPEC = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml")))


def operations():
    for path, item in SPEC["paths"].items():
        for method in item:
            if method in ("get", "put", "post", "patch", "delete", "head"):
                yield method.upper(), path


def test_the_spec_is_openapi_3_1_with_problem_types_the_server_uses():
    assert SPEC["openapi"] == "3.1.0"
    types = SPEC["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    src = open(os.path.join(ROOT, "src", "api", "api.c")).read()
    for t in types:
        slug = t.split(":")[-1]
        assert slug == "method-not-allowed" or '"%s"' % slug in src, slug


def test_every_documented_route_is_served(vault, admin):
    checked = 0
    for method, path in sorted(operations()):
        if path in ("/seal", "/logout"):
            continue  # would end the session the other checks use
        url = vault.url + path.lstrip("/")
        for p in ("{userId}", "{contractId}", "{folderId}", "{objectId}"):
            url = url.replace(p, str(uuid.uuid4()))
        kw = {}
        if method in ("POST", "PUT", "PATCH"):
            kw["json"] = {}
        if method == "PUT" and path.endswith("/objects"):
            kw = {"params": {"name": "x"}, "data": b""}
        r = admin.request(method, url, **kw)
        assert r.status_code != 405, (method, path, r.text)
        assert "X-Request-Id" in r.headers
        if method != "HEAD" and r.status_code >= 400:
            assert "no such route" not in r.json()["detail"], (method, path, r.text)
        checked += 1
    assert checked == 32
    # A path the spec does not list is not served.
    bogus = admin.get(vault.url + "nonexistent")
    assert bogus.status_code == 404 and "no such route" in bogus.json()["detail"]
