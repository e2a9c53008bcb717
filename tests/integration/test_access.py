"""The role x route x someone-else's-folder matrix, decided by the vault."""
import os

import pytest


@pytest.fixture
def world(vault, admin):
    """Contract A (admin manages) with folder FA; contract B of another manager."""
    u = vault.url
    people = {
        "manager": (admin, None),
        "handler": vault.new_user(admin, "handler", "h-granted"),
        "handler_no_acl": vault.new_user(admin, "handler", "h-none"),
        "auditor": vault.new_user(admin, "auditor", "aud"),
        "operator": vault.new_user(admin, "operator", "op"),
        "other_manager": vault.new_user(admin, "manager", "m2"),
    }
    a = admin.post(u + "contracts", json={"name": "A"}).json()["id"]
    fa = admin.post(u + "contracts/%s/folders" % a, json={"name": "FA"}).json()["id"]
    for who, role in [("handler", "handler"), ("handler_no_acl", "handler"),
                      ("auditor", "auditor")]:
        r = admin.put(u + "contracts/%s/members/%s" % (a, people[who].id), json={"role": role})
        assert r.status_code == 200, r.text
    r = admin.put(u + "folders/%s/acl/%s" % (fa, people["handler"].id),
                  json={"perms": ["read", "write"]})
    assert r.status_code == 200, r.text
    obj = admin.put(u + "folders/%s/objects" % fa, params={"name": "resident.csv"},
                    data=b"1,2,3\n").json()["id"]
    sessions = {"manager": admin}
    for k, v in people.items():
        if k != "manager":
            sessions[k] = v.login()
    m2 = sessions["other_manager"]
    b = m2.post(u + "contracts", json={"name": "B"}).json()["id"]
    fb = m2.post(u + "contracts/%s/folders" % b, json={"name": "FB"}).json()["id"]
    return dict(u=u, a=a, fa=fa, b=b, fb=fb, obj=obj, s=sessions, people=people)


ROLES = ["manager", "handler", "handler_no_acl", "auditor", "operator", "other_manager"]

# route -> expected status per role (same order as ROLES)
MATRIX = [
    ("GET contract A", [200, 200, 200, 200, 404, 404]),
    ("GET folder FA", [200, 200, 200, 200, 404, 404]),
    ("LIST objects FA", [200, 200, 403, 200, 404, 404]),
    ("GET object", [200, 200, 403, 403, 404, 404]),
    ("HEAD object", [200, 200, 403, 403, 404, 404]),
    ("PUT object FA", [201, 201, 403, 403, 404, 404]),
    ("CREATE folder in A", [201, 403, 403, 403, 404, 404]),
    ("SET acl FA", [200, 403, 403, 403, 404, 404]),
    ("DESIGNATE in A", [200, 403, 403, 403, 404, 404]),
    ("CREATE user", [201, 403, 403, 403, 403, 201]),
    ("LIST users", [200, 403, 403, 200, 403, 200]),
    ("GET folder FB", [404, 404, 404, 404, 404, 200]),
    ("PUT object FB", [404, 404, 404, 404, 404, 201]),
    ("DELETE object", [200, 200, 403, 403, 404, 404]),
]


def call(w, role, route, i):
    s, u = w["s"][role], w["u"]
    if route == "GET contract A":
        return s.get(u + "contracts/" + w["a"])
    if route == "GET folder FA":
        return s.get(u + "folders/" + w["fa"])
    if route == "LIST objects FA":
        return s.get(u + "folders/%s/objects" % w["fa"])
    if route == "GET object":
        return s.get(u + "objects/" + w["obj"])
    if route == "HEAD object":
        return s.head(u + "objects/" + w["obj"])
    if route == "PUT object FA":
        return s.put(u + "folders/%s/objects" % w["fa"], params={"name": "n-%s-%d" % (role, i)},
                     data=b"x")
    if route == "CREATE folder in A":
        return s.post(u + "contracts/%s/folders" % w["a"], json={"name": "F-%s" % role})
    if route == "SET acl FA":
        return s.put(u + "folders/%s/acl/%s" % (w["fa"], w["people"]["handler_no_acl"].id),
                     json={"perms": []})
    if route == "DESIGNATE in A":
        return s.put(u + "contracts/%s/members/%s" % (w["a"], w["people"]["auditor"].id),
                     json={"role": "auditor"})
    if route == "CREATE user":
        return s.post(u + "users", json={"name": "made-by-%s" % role.replace("_", "-"),
                                         "role": "handler"})
    if route == "LIST users":
        return s.get(u + "users")
    if route == "GET folder FB":
        return s.get(u + "folders/" + w["fb"])
    if route == "PUT object FB":
        return s.put(u + "folders/%s/objects" % w["fb"], params={"name": "n-" + role}, data=b"y")
    if route == "DELETE object":
        return s.delete(u + "objects/" + w["obj"])
    raise AssertionError(route)


def test_role_route_matrix(world):
    failures = []
    for route, expected in MATRIX:
        for i, role in enumerate(ROLES):
            if route == "DELETE object" and role in ("manager", "handler"):
                continue  # checked separately below, since it removes the object
            got = call(world, role, route, i).status_code
            if got != expected[i]:
                failures.append("%s as %s: expected %d, got %d" % (route, role, expected[i], got))
    assert not failures, "\n".join(failures)
    # Deleting works for the granted handler and leaves the object gone for all.
    assert call(world, "handler", "DELETE object", 0).status_code == 200
    assert call(world, "manager", "GET object", 0).status_code == 404


def test_auditor_sees_that_files_exist_but_not_their_names(world):
    items = world["s"]["auditor"].get(world["u"] + "folders/%s/objects" % world["fa"]).json()
    assert items["items"] and all(o["name"] is None for o in items["items"])
    items = world["s"]["handler"].get(world["u"] + "folders/%s/objects" % world["fa"]).json()
    assert "resident.csv" in [o["name"] for o in items["items"]]


def test_acl_only_for_designated_handlers(world):
    s, u = world["s"]["manager"], world["u"]
    r = s.put(u + "folders/%s/acl/%s" % (world["fa"], world["people"]["operator"].id),
              json={"perms": ["read"]})
    assert r.status_code == 400
    r = s.put(u + "contracts/%s/members/%s" % (world["a"], world["people"]["operator"].id),
              json={"role": "handler"})
    assert r.status_code == 400
    r = s.put(u + "folders/%s/acl/%s" % (world["fa"], world["people"]["handler"].id),
              json={"perms": ["read", "fly"]})
    assert r.status_code == 400


def test_withdrawn_right_applies_at_once(world):
    s, u = world["s"], world["u"]
    h = s["handler"]
    assert h.get(u + "objects/" + world["obj"]).status_code == 200
    r = s["manager"].put(u + "folders/%s/acl/%s" % (world["fa"], world["people"]["handler"].id),
                         json={"perms": []})
    assert r.status_code == 200
    assert h.get(u + "objects/" + world["obj"]).status_code == 403
