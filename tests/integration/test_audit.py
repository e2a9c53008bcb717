"""The audit log: every act recorded, tampering found, proofs that verify."""
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest import KINKO, kinko


def activity(vault, admin):
    c = admin.post(vault.url + "contracts", json={"name": "監査テスト"}).json()["id"]
    f = admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "F"}).json()["id"]
    o = admin.put(vault.url + "folders/%s/objects" % f, params={"name": "SECRETNAME.csv"},
                  data=b"a,b\n").json()["id"]
    assert admin.get(vault.url + "objects/" + o).status_code == 200
    return c, f, o


def events(vault):
    out = kinko("log", "show", "--dir", vault.dir).stdout
    return [json.loads(line) for line in out.splitlines()]


def checkpoint_now(admin, vault):
    r = admin.post(vault.url + "log/checkpoints")
    assert r.status_code == 201, r.text
    return r.json()["checkpoint"]


def test_every_request_and_act_is_an_event_without_personal_data(vault, admin):
    c, f, o = activity(vault, admin)
    s = vault.session()
    s.cert = None
    assert s.get(vault.url + "status").status_code == 403  # TLS client refused
    bad = vault.session().post(vault.url + "login", json={"user": "admin", "password": "x" * 12})
    assert bad.status_code == 401
    evs = events(vault)
    actions = [e["action"] for e in evs]
    for a in ["vault.init", "server.start", "config.load", "vault.unseal", "auth.login",
              "contract.create", "folder.create", "object.put", "object.get", "tls.refused"]:
        assert a in actions, a
    assert [e["seq"] for e in evs] == list(range(len(evs)))
    put = [e for e in evs if e["action"] == "object.put"][0]
    assert put["contract"] == c and o in put["targets"] and put["bytes"] == 4
    assert put["actor"] == admin.user["id"] and put["role"] == "manager"
    assert len(put["cert"]) == 64 and put["addr"] == "127.0.0.1"
    failed = [e for e in evs if e["action"] == "auth.login" and e["result"] == "denied"]
    assert failed and failed[0]["status"] == 401
    refused = [e for e in evs if e["action"] == "tls.refused"][0]
    assert refused["status"] == 403 and refused["cert"] == "-"
    raw = open(os.path.join(vault.dir, "kinko.db"), "rb").read()
    for e in kinko("log", "show", "--dir", vault.dir).stdout.splitlines():
        assert "SECRETNAME" not in e and "監査" not in e
    # CSV for Excel: UTF-8 with BOM.
    csv = subprocess.run([KINKO, "log", "show", "--dir", vault.dir, "--format", "csv",
                          "--action", "object."], capture_output=True).stdout
    assert csv.startswith(b"\xef\xbb\xbfseq,time,actor")
    assert b"object.put" in csv and b"auth.login" not in csv
    assert raw  # the store was readable while the server ran
    # Handlers do not read the log; the ward's auditors do.
    h = vault.new_user(admin, "handler").login()
    assert h.get(vault.url + "log/events").status_code == 403
    assert h.post(vault.url + "log/checkpoints").status_code == 403
    aud = vault.new_user(admin, "auditor").login()
    assert aud.get(vault.url + "log/events").status_code == 200


def h_leaf(b):
    return hashlib.sha256(b"\x00" + b).digest()


def h_node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2, independently of kinko's C code."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h_node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def test_inclusion_proofs_verify_independently(vault, admin):
    activity(vault, admin)
    note = checkpoint_now(admin, vault)
    lines = note.split("\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])
    raw = admin.get(vault.url + "log/events").json()["items"]
    data = [json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() for e in raw]
    con = sqlite3.connect(os.path.join(vault.dir, "kinko.db"))
    stored = [bytes(r[0]) for r in con.execute("SELECT data FROM audit_event ORDER BY seq")]
    con.close()
    for i in range(size):
        r = admin.get(vault.url + "log/proof/inclusion", params={"index": i, "size": size})
        assert r.status_code == 200
        proof = [base64.b64decode(p) for p in r.json()["proof"]]
        assert verify_inclusion(i, size, h_leaf(stored[i]), proof, root), i
        # A flipped bit is rejected.
        if proof:
            bad = bytearray(proof[0])
            bad[0] ^= 1
            assert not verify_inclusion(i, size, h_leaf(stored[i]), [bytes(bad)] + proof[1:], root)
    # The canonical encoding is compact JSON in a fixed key order: re-serialising the
    # served events gives back exactly the stored leaf bytes.
    assert data == stored[:len(data)]
    assert admin.get(vault.url + "log/proof/inclusion",
                     params={"index": size, "size": size}).status_code == 400


def test_online_verify_of_a_kept_checkpoint(vault, admin, tmp_path):
    activity(vault, admin)
    kept = tmp_path / "kept.note"
    kept.write_text(checkpoint_now(admin, vault))
    key = admin.get(vault.url + "log/key").json()["verifier"]
    activity(vault, admin)
    checkpoint_now(admin, vault)
    env = dict(os.environ, KINKO_SESSION=str(tmp_path / "session.json"))
    pw = tmp_path / "pw"
    pw.write_text(vault.admin_password + "\n")
    base = ["--url", vault.url[:-len("/api/v1/")], "--cacert", vault.ca,
            "--cert", vault.admin_cert[0], "--key", vault.admin_cert[1]]
    p = subprocess.run([KINKO, "login", "--user", "admin", "--password-file", str(pw), *base],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([KINKO, "log", "verify", "--checkpoint", str(kept), "--log-key", key],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("OK")
    # A checkpoint signed by another key is refused.
    other = key.split("+")
    other[2] = base64.b64encode(b"\x01" + os.urandom(32)).decode()
    p = subprocess.run([KINKO, "log", "verify", "--checkpoint", str(kept), "--log-key",
                        "+".join(other)], capture_output=True, text=True, env=env)
    assert p.returncode != 0


def stopped_copy(vault, admin):
    activity(vault, admin)
    checkpoint_now(admin, vault)
    vault.stop()
    assert kinko("log", "verify", "--dir", vault.dir).stdout.startswith("OK")
    con = sqlite3.connect(os.path.join(vault.dir, "kinko.db"))
    con.execute("DROP TRIGGER audit_event_no_update")
    con.execute("DROP TRIGGER audit_event_no_delete")
    return con


def expect_detected(vault, needle):
    p = kinko("log", "verify", "--dir", vault.dir, check=False)
    assert p.returncode == 1 and needle in p.stdout, p.stdout + p.stderr
    p = subprocess.run([KINKO, "serve", "--dir", vault.dir, "--key-file", vault.keyfile],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "refusing to serve" in p.stderr
    return p


def test_edit_is_detected(vault, admin):
    con = stopped_copy(vault, admin)
    row = bytes(con.execute("SELECT data FROM audit_event WHERE seq = 5").fetchone()[0])
    assert b'"bytes":0,' in row
    con.execute("UPDATE audit_event SET data = ? WHERE seq = 5",
                (row.replace(b'"bytes":0,', b'"bytes":7,'),))
    con.commit()
    con.close()
    expect_detected(vault, "event 5")


def test_an_event_that_does_not_decode_is_reported_by_the_tools_that_diagnose_it(vault, admin):
    # The server reads the log's revocations when it starts; an event it cannot
    # decode must still leave the tools that diagnose the log able to run.
    con = stopped_copy(vault, admin)
    con.execute("UPDATE audit_event SET data = CAST('not an event' AS BLOB) WHERE seq = 5")
    con.commit()
    con.close()
    expect_detected(vault, "event 5")


def test_delete_is_detected(vault, admin):
    con = stopped_copy(vault, admin)
    con.execute("DELETE FROM audit_event WHERE seq = 4")
    con.commit()
    con.close()
    expect_detected(vault, "event 4 is missing")


def test_reorder_is_detected(vault, admin):
    con = stopped_copy(vault, admin)
    a = con.execute("SELECT data FROM audit_event WHERE seq = 6").fetchone()[0]
    b = con.execute("SELECT data FROM audit_event WHERE seq = 7").fetchone()[0]
    con.execute("UPDATE audit_event SET data = ? WHERE seq = 6", (b,))
    con.execute("UPDATE audit_event SET data = ? WHERE seq = 7", (a,))
    con.commit()
    con.close()
    expect_detected(vault, "event 6")


def test_truncation_is_detected(vault, admin):
    con = stopped_copy(vault, admin)
    n = con.execute("SELECT max(seq) FROM audit_event").fetchone()[0]
    con.execute("DELETE FROM audit_event WHERE seq >= ?", (n - 2,))
    con.commit()
    con.close()
    expect_detected(vault, "removed")


def test_rewritten_tree_with_old_checkpoints_is_detected(vault, admin):
    """Editing an event and its leaf node still fails against the signed root."""
    con = stopped_copy(vault, admin)
    row = con.execute("SELECT data FROM audit_event WHERE seq = 3").fetchone()[0]
    new = bytes(row).replace(b'"bytes":0,', b'"bytes":9,')
    assert new != bytes(row)
    con.execute("UPDATE audit_event SET data = ? WHERE seq = 3", (new,))
    con.execute("DROP TRIGGER audit_node_no_update")
    con.execute("UPDATE audit_node SET hash = ? WHERE level = 0 AND idx = 3", (h_leaf(new),))
    con.commit()
    con.close()
    expect_detected(vault, "checkpoint")


def test_restoring_an_older_copy_is_detected(vault, admin):
    activity(vault, admin)
    checkpoint_now(admin, vault)
    vault.stop()
    old = os.path.join(os.path.dirname(vault.dir), "old.db")
    shutil.copy(os.path.join(vault.dir, "kinko.db"), old)
    vault.start()
    s = vault.login()
    activity(vault, s)
    checkpoint_now(s, vault)
    vault.stop()
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(os.path.join(vault.dir, "kinko.db" + suffix))
        except FileNotFoundError:
            pass
    shutil.copy(old, os.path.join(vault.dir, "kinko.db"))
    expect_detected(vault, "rolled back")


def test_unseal_and_checkpoint_wait_for_their_record_and_seal_says_so(tmp_path):
    """With the audit log unwritable (the next event's leaf taken in advance, so
    appending it fails; kinko runs no trigger kept in the file, so one cannot be
    used to refuse events): unseal does not happen, a checkpoint is not made, and
    a seal happens (the safe direction) with an answer that says it is not on
    record."""
    import re
    import requests
    from conftest import Vault, free_port
    base = str(tmp_path)
    d = os.path.join(base, "pv")
    pp = os.path.join(base, "pp")
    with open(pp, "w") as f:
        f.write("correct horse battery staple\n")
    out = kinko("init", "--dir", d, "--passphrase-file", pp).stdout
    port = free_port()
    with open(os.path.join(d, "kinko.conf"), "a") as f:
        f.write("\n[scan]\nrequired = false\n[server]\nlisten = 127.0.0.1:%d\n" % port)
    v = Vault.__new__(Vault)
    v.dir, v.port, v.host, v.prefix = d, port, "127.0.0.1", []
    v.keyfile, v.log, v.proc = None, os.path.join(base, "pv.log"), None
    v.start(unseal=False)
    db = sqlite3.connect(os.path.join(d, "kinko.db"), timeout=10)

    def audit_broken(on):
        if on:
            nxt = db.execute("SELECT coalesce(max(seq) + 1, 0) FROM audit_event").fetchone()[0]
            db.execute("INSERT INTO audit_node(level, idx, hash) VALUES(0, ?, zeroblob(32))",
                       (nxt,))
        else:
            db.execute("DELETE FROM audit_node WHERE level = 0 AND idx = "
                       "(SELECT coalesce(max(seq) + 1, 0) FROM audit_event)")
        db.commit()

    def acts():
        return [json.loads(bytes(x[0]))["action"] for x in db.execute("SELECT data FROM audit_event")]

    try:
        s = requests.Session()
        s.trust_env = False
        s.verify = os.path.join(d, "tls", "ca.pem")
        s.cert = (os.path.join(d, "clients", "admin", "client.pem"),
                  os.path.join(d, "clients", "admin", "client.key"))
        url = "https://127.0.0.1:%d/api/v1/" % port
        audit_broken(True)
        r = s.post(url + "unseal", json={"passphrase": "correct horse battery staple"})
        audit_broken(False)
        assert r.status_code == 503, r.text
        st = s.get(url + "status")
        assert st.json().get("sealed") is True, st.text
        assert "vault.unseal" not in acts()
        r = s.post(url + "unseal", json={"passphrase": "correct horse battery staple"})
        assert r.status_code == 200, r.text
        assert acts().count("vault.unseal") == 1

        pw = re.search(r"manager password[^:]*:\s*(\S+)", out).group(1)
        tok = s.post(url + "login", json={"user": "admin", "password": pw}).json()["token"]
        s.headers["Authorization"] = "Bearer " + tok
        cps = db.execute("SELECT count(*) FROM audit_checkpoint").fetchone()[0]
        cp_file = os.path.join(d, "audit-checkpoint")
        assert os.path.exists(cp_file) or cps == 0
        before = open(cp_file, "rb").read() if os.path.exists(cp_file) else None
        audit_broken(True)
        r = s.post(url + "log/checkpoints")
        assert r.status_code == 503, r.text
        assert db.execute("SELECT count(*) FROM audit_checkpoint").fetchone()[0] == cps
        assert (open(cp_file, "rb").read() if os.path.exists(cp_file) else None) == before
        r = s.post(url + "seal")
        audit_broken(False)
        assert r.status_code == 503 and "IS sealed" in r.json()["detail"], r.text
        assert s.get(url + "status").json()["sealed"] is True
        r = s.post(url + "unseal", json={"passphrase": "correct horse battery staple"})
        r = s.post(url + "log/checkpoints")
        assert r.status_code == 201, r.text
        assert acts().count("log.checkpoint") == 1
    finally:
        v.stop()
        db.close()
