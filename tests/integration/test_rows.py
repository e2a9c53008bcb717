"""Rows that decide access, written into kinko.db by someone without the unseal
secret, grant nothing: the server refuses them, `kinko check` lists them, and a
revoked certificate cannot be brought back by changing or deleting its row."""
import json
import sqlite3
import subprocess

from conftest import KINKO, kinko
from test_certificates import fingerprint


def db(vault, *statements):
    con = sqlite3.connect(vault.dir + "/kinko.db", timeout=10)
    for sql, args in statements:
        assert con.execute(sql, args).rowcount == 1, sql
    con.commit()
    con.close()


def actions(vault):
    out = kinko("log", "show", "--dir", vault.dir).stdout
    return [json.loads(line)["action"] for line in out.splitlines()]


def test_rows_written_outside_kinko_grant_nothing(vault, admin):
    u = vault.url
    assert "store.rows_authenticated" in actions(vault)  # from kinko init on
    c = admin.post(u + "contracts", json={"name": "住民税"}).json()["id"]
    f = admin.post(u + "contracts/%s/folders" % c, json={"name": "通知"}).json()["id"]
    secret = b"resident,12345\n" * 10
    obj = admin.put(u + "folders/%s/objects" % f, params={"name": "r.csv"}, data=secret)
    assert obj.status_code == 201, obj.text
    obj = obj.json()["id"]
    reader = vault.new_user(admin, "handler", "reader")  # designated, no right on f
    climber = vault.new_user(admin, "handler", "climber")  # not designated at all
    r = admin.put(u + "contracts/%s/members/%s" % (c, reader.id), json={"role": "handler"})
    assert r.status_code == 200, r.text
    assert reader.login().get(u + "objects/" + obj).status_code == 403
    vault.stop()

    # What someone with the file, but not the secret, can write: a right of their own.
    db(vault, ("INSERT INTO acl(folder_id, user_id, perms) VALUES(?, ?, 15)", (f, reader.id)))
    check = subprocess.run([KINKO, "check", "--dir", vault.dir, "--key-file", vault.keyfile],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert check.returncode == 3, check.stdout + check.stderr
    bad = [l for l in check.stdout.splitlines() if "does not authenticate" in l]
    assert len(bad) == 1 and " of acl " in bad[0], check.stdout
    assert "digest" not in check.stdout  # an added row that does not authenticate is no member

    vault.start()
    s = reader.login()
    r = s.get(u + "objects/" + obj)
    assert r.status_code == 500 and secret not in r.content, r.text
    assert r.json()["type"].endswith(":integrity")
    assert s.get(u + "folders/%s/objects" % f).status_code == 500
    # Everyone else goes on.
    assert admin.get(u + "objects/" + obj).content == secret
    vault.stop()

    # An authentic row changed (an account raised to manager): that row is refused,
    # and the set of access rows is no longer the one kinko keeps a digest of, so
    # every access decision is refused until the operator has dealt with it.
    db(vault, ("UPDATE users SET role = 1 WHERE id = ?", (climber.id,)))
    check = subprocess.run([KINKO, "check", "--dir", vault.dir, "--key-file", vault.keyfile],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert check.returncode == 3, check.stdout + check.stderr
    bad = [l for l in check.stdout.splitlines() if "does not authenticate" in l]
    assert len(bad) == 2 and any(" of users " in l for l in bad), check.stdout
    assert "not the set kinko keeps a digest of" in check.stdout, check.stdout
    vault.start()
    r = vault.session(cert=climber.cert).post(
        u + "login", json={"user": climber.name, "password": climber.password})
    assert r.status_code == 500 and "token" not in r.text, r.text
    r = admin.get(u + "objects/" + obj)
    assert r.status_code == 500 and secret not in r.content, r.text
    assert "ALERT: the records that decide access are not the set" in open(vault.log).read()
    # The operator's way out, without a backup: accept the rows as they are now (the
    # changed one stays refused). The running server takes the new digest at once.
    r = subprocess.run([KINKO, "rows", "accept", "--dir", vault.dir, "--key-file", vault.keyfile],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "accepted" in r.stdout, r.stdout + r.stderr
    assert admin.get(u + "objects/" + obj).content == secret
    r = vault.session(cert=climber.cert).post(
        u + "login", json={"user": climber.name, "password": climber.password})
    assert r.status_code == 500 and "token" not in r.text, r.text
    assert "store.rows_accepted" in actions(vault)


def test_a_revoked_certificate_stays_revoked_whatever_is_done_to_its_row(vault, admin):
    u = vault.url
    h = vault.new_user(admin, "handler")
    other = vault.new_user(admin, "handler")  # never revoked
    fp = fingerprint(h.cert[0])
    row = "SELECT revoked_at, revoked_by, mac FROM certificates WHERE fingerprint = ?"
    con = sqlite3.connect(vault.dir + "/kinko.db", timeout=10)
    before = con.execute(row, (fp,)).fetchone()
    con.close()
    assert admin.post(u + "certificates/%s/revoke" % fp).status_code == 200
    # The revocation is under a signed checkpoint at once, not only within 5 minutes.
    con = sqlite3.connect(vault.dir + "/kinko.db", timeout=10)
    seq = con.execute("SELECT max(seq) FROM audit_event WHERE CAST(data AS TEXT) "
                      "LIKE '%\"certificate.revoke\"%'").fetchone()[0]
    signed = con.execute("SELECT max(size) FROM audit_checkpoint").fetchone()[0]
    con.close()
    assert seq is not None and signed > seq, (seq, signed)
    con = sqlite3.connect(vault.dir + "/kinko.db", timeout=10)
    after = con.execute(row, (fp,)).fetchone()
    con.close()
    # Its row as it was before the revocation, put back (an authentic row, replayed):
    # the revocation on record in the audit log still holds, before and after a restart.
    db(vault, ("UPDATE certificates SET revoked_at = ?, revoked_by = ?, mac = ? "
               "WHERE fingerprint = ?", (*before, fp)))
    plain = vault.session(cert=h.cert)
    r = plain.post(u + "login", json={"user": h.name, "password": h.password})
    assert r.status_code == 403 and "revoked" in r.json()["detail"], r.text
    vault.stop()
    vault.start()
    r = plain.post(u + "login", json={"user": h.name, "password": h.password})
    assert r.status_code == 403 and "audit log" in r.json()["detail"], r.text
    # The replayed row is authentic, but the set of access rows is no longer the one
    # kinko keeps a digest of: nothing is decided on those rows until it is again.
    r = admin.get(u + "users")
    assert r.status_code == 500 and r.json()["type"].endswith(":integrity"), r.text
    db(vault, ("UPDATE certificates SET revoked_at = ?, revoked_by = ?, mac = ? "
               "WHERE fingerprint = ?", (*after, fp)))
    assert admin.get(u + "users").status_code == 200
    vault.stop()
    db(vault, ("UPDATE certificates SET revoked_at = 0, revoked_by = '' WHERE fingerprint = ?",
               (fp,)))
    vault.start()
    plain = vault.session(cert=h.cert)
    r = plain.post(u + "login", json={"user": h.name, "password": h.password})
    assert r.status_code in (403, 500) and "token" not in r.text, r.text
    vault.stop()
    db(vault, ("DELETE FROM certificates WHERE fingerprint = ?", (fp,)),
       ("DELETE FROM certificates WHERE fingerprint = ?", (fingerprint(other.cert[0]),)))
    vault.start()
    r = plain.post(u + "login", json={"user": h.name, "password": h.password})
    assert r.status_code == 403 and "revoked" in r.json()["detail"], r.text
    # A certificate kinko issued since its list began must be on it.
    r = vault.session(cert=other.cert).post(u + "login", json={"user": other.name,
                                                                "password": other.password})
    assert r.status_code == 403 and "not on kinko's list" in r.json()["detail"], r.text
    # While sealed, a revocation as stored is still obeyed (status answers others).
    vault.stop()
    db(vault, ("INSERT INTO certificates(fingerprint, user_id, issued_at, not_after, revoked_at) "
               "VALUES(?, ?, 1, 2, 3)", (fp, h.id)))
    vault.start(unseal=False)
    assert vault.session().get(u + "status").json()["sealed"] is True
    assert plain.get(u + "status").status_code == 403


def test_a_schema_6_vault_is_adopted_once_on_its_first_unseal(tmp_path):
    """A data directory left by kinko at schema 6 (data/make-vault-schema6.sh): the
    first unseal authenticates its rows as they are, on record; people keep what
    they had, revocations hold, and rows added to the file later are refused."""
    import os
    import tarfile
    from conftest import Vault, free_port

    here = os.path.dirname(os.path.abspath(__file__))
    with tarfile.open(os.path.join(here, "data", "vault-schema6.tar.gz")) as t:
        t.extractall(tmp_path)
    base = str(tmp_path)
    with open(os.path.join(base, "fixture.json")) as f:
        fx = json.load(f)
    for pem in ("v/tls/server.pem", "sato.pem", "revoked.pem"):
        left = subprocess.run(["openssl", "x509", "-noout", "-checkend", "86400", "-in",
                               os.path.join(base, pem)], capture_output=True)
        assert left.returncode == 0, \
            "%s in the fixture expires: regenerate it with data/make-vault-schema6.sh" % pem
    v = Vault.__new__(Vault)
    v.dir, v.keyfile, v.host, v.prefix = os.path.join(base, "v"), os.path.join(base, "v.key"), "127.0.0.1", []
    v.port, v.proc, v.log = free_port(), None, os.path.join(base, "v.log")
    v.url = "https://127.0.0.1:%d/api/v1/" % v.port
    v.ca = os.path.join(v.dir, "tls", "ca.pem")
    v.admin_cert = (os.path.join(v.dir, "clients", "admin", "client.pem"),
                    os.path.join(v.dir, "clients", "admin", "client.key"))
    with open(os.path.join(v.dir, "kinko.conf"), "a") as f:
        f.write("\n[scan]\nrequired = false\n[server]\nlisten = 127.0.0.1:%d\n" % v.port)
    con = sqlite3.connect(os.path.join(v.dir, "kinko.db"))
    assert con.execute("PRAGMA user_version").fetchone()[0] == 6
    # A digest planted before the first unseal (the sum of no authenticated rows
    # is zero) is not taken for kinko's: the unseal makes the digest, on record.
    con.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL)")
    con.execute("INSERT INTO meta(key, value) VALUES('rows_digest', zeroblob(32))")
    con.commit()
    con.close()
    sato = (os.path.join(base, "sato.pem"), os.path.join(base, "sato.key"))
    revoked = (os.path.join(base, "revoked.pem"), os.path.join(base, "revoked.key"))
    v.start()
    try:
        adopted = [json.loads(l) for l in kinko("log", "show", "--dir", v.dir).stdout.splitlines()]
        adopted = [e for e in adopted if e["action"] == "store.rows_authenticated"]
        # 11 rows: admin and sato; admin's session; admin's certificate and sato's
        # two; the contract; its two members (admin, who made it, and sato); the
        # folder; sato's right.
        assert len(adopted) == 1 and adopted[0]["bytes"] == 11, adopted
        s = v.login("sato", fx["sato_password"], cert=sato)
        with open(os.path.join(base, "data.csv"), "rb") as f:
            assert s.get(v.url + "objects/" + fx["object"]).content == f.read()
        assert s.put(v.url + "folders/%s/objects" % fx["folder"], params={"name": "x"},
                     data=b"x").status_code == 403  # read only, as before
        r = v.session(cert=revoked).post(v.url + "login", json={"user": "sato",
                                                                  "password": fx["sato_password"]})
        assert r.status_code == 403 and "revoked" in r.json()["detail"]
        r = subprocess.run([KINKO, "check", "--dir", v.dir, "--key-file", v.keyfile],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        # The digest of the set of access rows is made at the same unseal, once.
        events = [json.loads(l) for l in kinko("log", "show", "--dir", v.dir).stdout.splitlines()]
        digests = [e for e in events if e["action"] == "store.rows_digest"]
        assert len(digests) == 1 and digests[0]["bytes"] == 11, digests
        v.stop()
        # A right written into the file now is not adopted by the next unseal.
        db(v, ("INSERT INTO acl(folder_id, user_id, perms) "
               "SELECT ?, id, 15 FROM users WHERE name = 'admin'", (fx["folder"],)))
        v.start()
        s = v.login("sato", fx["sato_password"], cert=sato)
        assert s.get(v.url + "objects/" + fx["object"]).status_code == 200
        r = subprocess.run([KINKO, "check", "--dir", v.dir, "--key-file", v.keyfile],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 3 and " of acl does not authenticate" in r.stdout, r.stdout
        acts = actions(v)
        assert acts.count("store.rows_authenticated") == 1
        assert acts.count("store.rows_digest") == 1
        assert "store.rows_mark_restored" not in acts
        v.stop()
        # Nor is the digest made again once it is on record: without it, rows put
        # back from an older copy would be taken in. Every access decision is
        # refused, and kinko check says why.
        db(v, ("DELETE FROM meta WHERE key = 'rows_digest'", ()))
        v.start()
        with open(v.log, errors="replace") as f:
            assert "is missing from kinko.db: it was removed outside kinko" in f.read()
        r = v.session(cert=sato).post(v.url + "login", json={"user": "sato",
                                                             "password": fx["sato_password"]})
        assert r.status_code == 500 and "token" not in r.text, r.text
        v.stop()
        r = subprocess.run([KINKO, "check", "--dir", v.dir, "--key-file", v.keyfile],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 3 and "digest of the records that decide access was removed" \
            in r.stdout, r.stdout + r.stderr
        assert actions(v).count("store.rows_digest") == 1
    finally:
        v.stop()
