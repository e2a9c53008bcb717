"""kinko check: the vault's integrity read back, beside a running server."""
import hashlib
import json
import os
import subprocess
import threading

from conftest import KINKO, kinko


def folder(vault, admin):
    c = admin.post(vault.url + "contracts", json={"name": "整合性検査"}).json()["id"]
    return admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "F"}).json()["id"]


def put(vault, admin, f, name, data):
    r = admin.put(vault.url + "folders/%s/objects" % f, params={"name": name}, data=data)
    assert r.status_code == 201, r.text
    return r.json()


def blob(vault, oid):
    return os.path.join(vault.dir, "blobs", oid[:2], oid)


def check(vault, *args):
    return subprocess.run([KINKO, "check", "--dir", vault.dir, *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, start_new_session=True)


def check_json(vault, *args):
    r = check(vault, "--json", *args)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode, json.loads(r.stdout)


def events(vault, action):
    out = kinko("log", "show", "--dir", vault.dir).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["action"] == action]


def test_intact_vault_checks_clean_while_the_server_uploads(vault, admin):
    f = folder(vault, admin)
    # The largest makes the check last long enough (a few tenths of a second) for
    # several requests to run beside it.
    sizes = [0, 1, 65536, 65537, 3 * 1024 * 1024 + 5, 128 * 1024 * 1024]
    for i, n in enumerate(sizes):
        put(vault, admin, f, "住民%d.csv" % i, os.urandom(n))
    # Uploads and deletes go on while the check reads: it never blocks the server,
    # and objects that appear or go meanwhile are checked whole or not at all.
    stop, going = threading.Event(), threading.Event()
    uploaded, kept, errors = [], [], []

    def keep_uploading():
        try:
            upload_and_delete()
        except BaseException as e:  # an assertion here must fail the test
            errors.append(e)
            going.set()

    def upload_and_delete():
        s = vault.session()
        s.headers["Authorization"] = admin.headers["Authorization"]
        while not stop.is_set():
            r = s.put(vault.url + "folders/%s/objects" % f,
                      params={"name": "during-%d" % len(uploaded)}, data=os.urandom(200000))
            assert r.status_code == 201, r.text
            # Every other one is deleted again: objects that go while the check
            # reads are not reported either.
            if len(uploaded) % 2:
                d = s.delete(vault.url + "objects/" + r.json()["id"])
                assert d.status_code in (200, 204), d.text
            else:
                kept.append(r.json()["id"])
            uploaded.append(r.json()["id"])
            going.set()

    t = threading.Thread(target=keep_uploading)
    t.start()
    try:
        assert going.wait(60)
        at_start = len(uploaded)
        r = check(vault, "--key-file", vault.keyfile)
        during = len(uploaded) - at_start
    finally:
        stop.set()
        t.join()
    assert errors == []
    # The server went on answering while the check ran (it takes no write lock,
    # not even while it verifies the audit log).
    assert during >= 2, during
    assert r.returncode == 0, r.stdout + r.stderr
    assert "intact / 異常なし" in r.stdout
    assert "住民" not in r.stdout + r.stderr  # names are personal data: never printed
    rc, rep = check_json(vault, "--key-file", vault.keyfile)
    assert rc == 0 and rep["intact"] is True and rep["problems"] == []
    assert rep["depth"] == "content" and rep["database_ok"] and rep["log_ok"]
    assert rep["objects"] == len(sizes) + len(kept)
    assert rep["bytes"] == sum(sizes) + 200000 * len(kept)
    assert rep["damaged"] == 0 and rep["orphan_blobs"] == 0
    assert rep["log_events"] > 0
    # Each check is evidence in the audit log, by the system, with what it read.
    ev = events(vault, "store.check")
    assert len(ev) == 2 and ev[-1]["result"] == "ok" and ev[-1]["bytes"] == rep["bytes"]
    assert ev[-1]["role"] == "system"


def test_each_kind_of_damage_is_found_and_named(vault, admin):
    f = folder(vault, admin)
    data = os.urandom(300000)
    flipped = put(vault, admin, f, "a.bin", data)["id"]
    cut = put(vault, admin, f, "b.bin", data)["id"]
    gone = put(vault, admin, f, "c.bin", data)["id"]
    header = put(vault, admin, f, "d.bin", data)["id"]
    fine = put(vault, admin, f, "e.bin", data)
    with open(blob(vault, flipped), "r+b") as b:
        b.seek(64 + 2 * (65536 + 16) + 1000)
        c = b.read(1)
        b.seek(-1, 1)
        b.write(bytes([c[0] ^ 1]))
    os.truncate(blob(vault, cut), 64 + 65536 + 16)
    os.unlink(blob(vault, gone))
    with open(blob(vault, header), "r+b") as b:
        b.seek(20)
        c = b.read(1)
        b.seek(20)
        b.write(bytes([c[0] ^ 1]))
    # A blob no object refers to (an interrupted upload) is counted, not damage.
    orphan = os.path.join(vault.dir, "blobs", "00", "00000000-0000-4000-8000-00000000abcd")
    os.makedirs(os.path.dirname(orphan), exist_ok=True)
    with open(orphan, "wb") as o:
        o.write(b"x" * 100)

    rc, rep = check_json(vault, "--key-file", vault.keyfile)
    assert rc == 3 and rep["intact"] is False
    found = {p["object"]: p["problem"] for p in rep["problems"]}
    assert set(found) == {flipped, cut, gone, header}
    assert "chunk 2 of the object failed authentication" in found[flipped]
    assert "cut short" in found[cut]
    assert "is missing" in found[gone]
    assert "header" in found[header]
    assert rep["damaged"] == 4 and rep["objects"] == 5 and rep["orphan_blobs"] == 1
    assert rep["database_ok"] and rep["log_ok"]

    # Without the key only the files are looked at: the flipped byte stays unseen.
    rc, quick = check_json(vault, "--quick")
    assert rc == 3 and quick["depth"] == "files"
    assert {p["object"] for p in quick["problems"]} == {cut, gone, header}

    # The text report names them too, and says what to do.
    r = check(vault, "--key-file", vault.keyfile)
    assert r.returncode == 3
    assert "NG  object %s: chunk 2 of the object failed authentication" % flipped in r.stdout
    assert "restore" in r.stdout and "DAMAGED" in r.stdout

    ev = events(vault, "store.check")
    assert [e["result"] for e in ev] == ["error", "error"]
    assert events(vault, "store.check_quick")[-1]["result"] == "error"

    # The undamaged object still reads, and the server serves on.
    g = admin.get(vault.url + "objects/" + fine["id"])
    assert g.status_code == 200 and hashlib.sha256(g.content).hexdigest() == fine["sha256"]


def test_a_damaged_log_is_reported(vault, admin):
    folder(vault, admin)
    vault.stop()
    import sqlite3
    db = sqlite3.connect(os.path.join(vault.dir, "kinko.db"))
    # The log's rows refuse changes in the engine; an attacker with the file can
    # still drop the guard.
    triggers = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'")]
    for t in triggers:
        db.execute("DROP TRIGGER %s" % t)
    db.execute("UPDATE audit_event SET data = CAST(replace(CAST(data AS TEXT), "
               "'contract.create', 'contract.xreate') AS BLOB) "
               "WHERE CAST(data AS TEXT) LIKE '%contract.create%'")
    db.commit()
    db.close()
    r = check(vault, "--quick")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "NG  audit log" in r.stdout


def test_refusals(vault):
    # The key is needed for a deep check; nothing to type it on here.
    r = check(vault)
    assert r.returncode == 1
    assert "--key-file" in r.stderr and "--passphrase-file" in r.stderr
    wrong = os.path.join(os.path.dirname(vault.dir), "wrong.key")
    with open(wrong, "wb") as w:
        w.write(os.urandom(32))
    r = check(vault, "--key-file", wrong)
    assert r.returncode == 1 and r.stdout == ""
    assert check(vault, "--quick", "--key-file", vault.keyfile).returncode == 2
    assert check(vault, "--key-file", vault.keyfile, "extra").returncode == 2
    r = subprocess.run([KINKO, "check", "--dir", vault.dir + "-none", "--quick"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr
    assert events(vault, "store.check") == []
