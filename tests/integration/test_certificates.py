"""The issued/revoked certificate list (checklist S2), and revocation: a revoked
client certificate opens nothing, its sessions end, and only a manager revokes."""
import hashlib
import os
import ssl

from test_cli import Cli, write


def fingerprint(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def certs(session, vault, **params):
    r = session.get(vault.url + "certificates", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_every_certificate_issued_is_listed(vault, admin):
    # The first manager's, made by init, is on the list too.
    mine = [c for c in certs(admin, vault) if c["fingerprint"] == fingerprint(vault.admin_cert[0])]
    assert len(mine) == 1 and mine[0]["user_id"] == admin.user["id"]
    assert not mine[0]["revoked"] and mine[0]["revoked_at"] is None
    h = vault.new_user(admin, "handler", days=30)
    items = certs(admin, vault, user=h.id)
    assert [c["fingerprint"] for c in items] == [fingerprint(h.cert[0])]
    assert items[0]["not_after"] - items[0]["issued_at"] == 30 * 86400
    assert items[0]["revoked_by"] is None
    # Newest first, and the cursor walks the whole list once.
    seen, cursor = [], None
    while True:
        params = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        r = admin.get(vault.url + "certificates", params=params).json()
        seen += [c["fingerprint"] for c in r["items"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert seen == [c["fingerprint"] for c in certs(admin, vault)]
    # Both, once each (init's and the handler's may share a second: ties are
    # ordered by fingerprint).
    assert sorted(seen) == sorted([fingerprint(h.cert[0]), fingerprint(vault.admin_cert[0])])
    # Paging one account's list keeps the filter, whatever else the query holds
    # (a fourth argument once made the server drop it).
    r = admin.get(vault.url + "certificates",
                  params={"limit": 1000, "cursor": "c9999999999:" + "f" * 64, "user": h.id})
    assert r.status_code == 200, r.text
    assert [c["user_id"] for c in r.json()["items"]] == [h.id]


def test_a_revoked_certificate_opens_nothing(vault, admin):
    h = vault.new_user(admin, "handler")
    s = h.login()
    assert s.get(vault.url + "me").status_code == 200
    fp = fingerprint(h.cert[0])
    r = admin.post(vault.url + "certificates/%s/revoke" % fp)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["revoked"] and doc["revoked_by"] == admin.user["id"] and doc["revoked_at"] > 0
    # The session opened with it is refused, and so is every route, status too.
    r = s.get(vault.url + "me")
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    plain = vault.session(cert=h.cert)
    assert plain.get(vault.url + "status").status_code == 403
    r = plain.post(vault.url + "login", json={"user": h.name, "password": h.password})
    assert r.status_code == 403
    # Revoking again keeps the first revocation.
    again = admin.post(vault.url + "certificates/%s/revoke" % fp).json()
    assert again["revoked_at"] == doc["revoked_at"]
    # A new certificate for the same person works; the list shows both.
    r = admin.post(vault.url + "users/%s/certificates" % h.id, json={"days": 10})
    assert r.status_code == 201
    d = os.path.join(os.path.dirname(vault.dir), "certs-renewed")
    os.makedirs(d)
    cert = (write(os.path.join(d, "c.pem"), r.json()["cert_pem"]),
            write(os.path.join(d, "c.key"), r.json()["key_pem"]))
    assert vault.login(h.name, h.password, cert=cert).get(vault.url + "me").status_code == 200
    states = {c["fingerprint"]: c["revoked"] for c in certs(admin, vault, user=h.id)}
    assert states == {fp: True, r.json()["fingerprint"]: False}
    # The revocation is in the audit log, naming the certificate.
    ev = [e for e in admin.get(vault.url + "log/events").json()["items"]
          if e["action"] == "certificate.revoke"]
    assert len(ev) == 2 and all(fp in e["targets"] and h.id in e["targets"] for e in ev)


def test_only_a_manager_revokes(vault, admin):
    h = vault.new_user(admin, "handler")
    a = vault.new_user(admin, "auditor")
    fp = fingerprint(h.cert[0])
    sh, sa = h.login(), a.login()
    assert sh.get(vault.url + "certificates").status_code == 403
    assert sa.get(vault.url + "certificates").status_code == 200
    for s in (sh, sa):
        assert s.post(vault.url + "certificates/%s/revoke" % fp).status_code == 403
    assert not certs(admin, vault, user=h.id)[0]["revoked"]
    assert sh.get(vault.url + "me").status_code == 200


def test_bad_revocations_change_nothing(vault, admin):
    h = vault.new_user(admin, "handler")
    fp = fingerprint(h.cert[0])
    before = certs(admin, vault)
    assert admin.post(vault.url + "certificates/%s/revoke" % ("0" * 64)).status_code == 404
    for bad in ["xyz", "A" * 64, fp + "0", fp[:-1]]:
        r = admin.post(vault.url + "certificates/%s/revoke" % bad)
        assert r.status_code == 400 and "64 lowercase hex" in r.json()["detail"], bad
    r = admin.post(vault.url + "certificates/%s/revoke" % fp, json={"reason": "x"})
    assert r.status_code == 400
    r = admin.get(vault.url + "certificates", params={"cursor": "cbogus"})
    assert r.status_code == 400
    r = admin.get(vault.url + "certificates", params={"user": "hanako"})
    assert r.status_code == 400 and "account ID" in r.json()["detail"]
    # The certificate this request is made with: it would leave the manager none.
    r = admin.post(vault.url + "certificates/%s/revoke" % fingerprint(vault.admin_cert[0]))
    assert r.status_code == 409 and "another manager" in r.json()["detail"]
    assert certs(admin, vault) == before
    assert h.login().get(vault.url + "me").status_code == 200


def test_cli_lists_and_revokes(vault, admin, tmp_path):
    h = vault.new_user(admin, "handler")
    fp = fingerprint(h.cert[0])
    cli = Cli(str(tmp_path), "admin")
    pw = write(os.path.join(str(tmp_path), "admin.pw"), vault.admin_password + "\n")
    cli.run("login", "--dir", vault.dir, "--user", "admin", "--password-file", pw)
    assert [c["fingerprint"] for c in cli.json("cert", "list", h.name)["items"]] == [fp]
    doc = cli.json("cert", "revoke", fp)
    assert doc["revoked"] and doc["fingerprint"] == fp
    assert any(c["fingerprint"] == fp and c["revoked"] for c in cli.json("cert", "list")["items"])
    p = cli.run("cert", "revoke", "not-a-fingerprint", rc=2)
    assert "64 hex digits" in p.stderr
