"""docs/openapi.yaml and the server agree: every documented route exists."""
import os
import re
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
        if method == "POST" and path.endswith("/imports"):
            kw = {"params": {"name": "x"}, "data": b"",
                  "headers": {"X-Kinko-Package-Password": "pw"}}
        r = admin.request(method, url, **kw)
        assert r.status_code != 405, (method, path, r.text)
        assert "X-Request-Id" in r.headers
        if method != "HEAD" and r.status_code >= 400:
            assert "no such route" not in r.json()["detail"], (method, path, r.text)
        checked += 1
    assert checked == 38
    # A path the spec does not list is not served.
    bogus = admin.get(vault.url + "nonexistent")
    assert bogus.status_code == 404 and "no such route" in bogus.json()["detail"]


def test_status_carries_what_the_spec_says(vault, admin):
    schemas = SPEC["components"]["schemas"]
    r = admin.get(vault.url + "status")
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == set(schemas["Status"]["properties"])
    assert set(doc["scanner"]) == set(schemas["Scanner"]["properties"])
    assert set(schemas["Scanner"]["required"]) == set(schemas["Scanner"]["properties"])
    assert (doc["scanner"]["reason"] is None) == doc["scanner"]["ok"]


def test_folder_json_carries_what_the_spec_says(vault, admin):
    folder = SPEC["components"]["schemas"]["Folder"]
    c = admin.post(vault.url + "contracts", json={"name": "spec check"})
    assert c.status_code == 201, c.text
    f = admin.post(vault.url + "contracts/%s/folders" % c.json()["id"], json={"name": "spec"})
    assert f.status_code == 201, f.text
    assert set(f.json()) == set(folder["properties"]) == set(folder["required"])
    assert f.json()["specific_personal"] is False
    p = admin.patch(vault.url + "folders/" + f.json()["id"], json={"specific_personal": True})
    assert p.status_code == 200 and p.json()["specific_personal"] is True, p.text
    bad = admin.patch(vault.url + "folders/" + f.json()["id"], json={"specific_personal": 1})
    assert bad.status_code == 400
    obj = SPEC["components"]["schemas"]["Object"]
    u = admin.put(vault.url + "folders/%s/objects" % f.json()["id"], params={"name": "a.csv"},
                  data="名前,番号\n山田,1\n".encode())
    assert u.status_code == 201, u.text
    assert set(u.json()) == set(obj["properties"]) == set(obj["required"])
    assert set(u.json()["mynumber"]) == set(obj["properties"]["mynumber"]["required"])
    assert u.json()["encoding"] in obj["properties"]["encoding"]["enum"]
    assert re.fullmatch(r"[0-9.]+/[0-9]+", u.json()["scanned_with"])
