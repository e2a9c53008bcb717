"""Receiving data from the ward: packages unpacked into a folder, all or none."""
import base64
import hashlib
import os
import shutil
import subprocess
import uuid

import pytest
import requests

from conftest import KINKO

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
PW = "ward-package-pass-42"

pytestmark = pytest.mark.skipif(not shutil.which("7z"), reason="needs 7z (p7zip-full)")


def zip_of(tmp_path, name, files):
    d = tmp_path / ("src-" + name)
    d.mkdir()
    for fn, data in files.items():
        (d / fn).write_bytes(data)
    out = tmp_path / name
    subprocess.run(["7z", "a", "-tzip", "-mem=AES256", "-p" + PW, str(out)] +
                   [str(d / fn) for fn in files], check=True, capture_output=True)
    return out


def folder(vault, admin):
    c = admin.post(vault.url + "contracts", json={"name": "import"}).json()["id"]
    return admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "in"}).json()["id"]


def post(s, vault, f, path, pw=PW):
    return s.post(vault.url + "folders/%s/imports" % f, data=open(path, "rb"),
                  headers={"X-Kinko-Package-Password": pw})


def names(s, vault, f):
    return sorted(o["name"] for o in s.get(vault.url + "folders/%s/objects" % f).json()["items"])


def test_zip_import_stores_every_file_scanned_and_counted(vault, admin, tmp_path):
    f = folder(vault, admin)
    csv = "氏名,住所\r\n山田,東京\r\n鈴木,大阪\r\n".encode("cp932")
    pkg = zip_of(tmp_path, "in.zip", {"a.csv": csv, "b.txt": b"one\ntwo\nthree\n"})
    r = post(admin, vault, f, pkg)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["format"] == "zip" and doc["count"] == 2
    assert doc["package_sha256"] == hashlib.sha256(pkg.read_bytes()).hexdigest()
    by = {o["name"]: o for o in doc["objects"]}
    assert by["a.csv"]["records"] == 3 and by["a.csv"]["encoding"] == "cp932"
    assert by["b.txt"]["records"] == 3
    assert admin.get(vault.url + "objects/" + by["a.csv"]["id"]).content == csv
    ev = [e for e in admin.get(vault.url + "log/events").json()["items"]
          if e["action"] == "object.import"]
    assert len(ev) == 1 and doc["package_sha256"] in ev[0]["targets"]


def test_an_infected_entry_stores_nothing(vault, admin, tmp_path):
    f = folder(vault, admin)
    pkg = zip_of(tmp_path, "bad.zip", {"a.csv": b"x,y\n1,2\n", "z.bin": b"pad" + EICAR})
    r = post(admin, vault, f, pkg)
    assert r.status_code == 422, r.text
    assert names(admin, vault, f) == []
    assert os.listdir(os.path.join(vault.dir, "blobs", "tmp")) == []


def test_wrong_password_and_garbage_store_nothing(vault, admin, tmp_path):
    f = folder(vault, admin)
    pkg = zip_of(tmp_path, "in.zip", {"a.csv": b"x\n"})
    r = post(admin, vault, f, pkg, pw="wrong password")
    assert 400 <= r.status_code < 500, r.text
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(5000))
    r = post(admin, vault, f, junk)
    assert 400 <= r.status_code < 500, r.text
    r = admin.post(vault.url + "folders/%s/imports" % f, data=b"PK")
    assert r.status_code == 400  # no password header
    assert names(admin, vault, f) == []


def test_cli_import_and_age(vault, admin, tmp_path):
    f = folder(vault, admin)
    pwf = tmp_path / "pw"
    pwf.write_text(PW + "\n")
    src = tmp_path / "list.csv"
    src.write_bytes(b"a,b\n1,2\n3,4\n")
    age = tmp_path / "list.csv.age"
    p = subprocess.run([KINKO, "package", "seal", "--format", "age", "--out", str(age),
                        "--password-file", str(pwf), str(src)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    env = dict(os.environ, KINKO_SESSION=str(tmp_path / "s.json"))
    apw = tmp_path / "apw"
    apw.write_text(vault.admin_password + "\n")
    base = ["--url", vault.url[:-len("/api/v1/")], "--cacert", vault.ca,
            "--cert", vault.admin_cert[0], "--key", vault.admin_cert[1]]
    subprocess.run([KINKO, "login", "--user", "admin", "--password-file", str(apw), *base],
                   check=True, capture_output=True, env=env)
    p = subprocess.run([KINKO, "import", "--folder", f, "--password-file", str(pwf), str(age)],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert '"format": "age"' in p.stdout
    objs = admin.get(vault.url + "folders/%s/objects" % f).json()["items"]
    assert len(objs) == 1 and objs[0]["records"] == 3


def age_header(log_n):
    """The start of an age file whose password stanza asks for scrypt at 2^log_n."""
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")
    return ("age-encryption.org/v1\n-> scrypt %s %d\n%s\n--- %s\n" % (
        b64(os.urandom(16)), log_n, b64(os.urandom(32)), b64(os.urandom(32)))).encode() + \
        os.urandom(4096)


def test_no_password_work_before_the_right_to_write(vault, admin):
    """The work factor comes from the package: a caller who may not write to the
    folder is refused before any of it, and nobody gets more than age's own 2^18."""
    f = folder(vault, admin)
    aud = vault.new_user(admin, "auditor").login()
    hwm = vault.rss_kib("VmHWM")
    for target in (f, str(uuid.uuid4())):  # a folder the auditor may not write, none at all
        r = aud.post(vault.url + "folders/%s/imports" % target, data=age_header(20),
                     headers={"X-Kinko-Package-Password": "x"})
        assert r.status_code == 404, r.text
    r = admin.post(vault.url + "folders/%s/imports" % f, data=age_header(20),
                   headers={"X-Kinko-Package-Password": "x"})
    assert r.status_code == 413 and "2^20" in r.json()["detail"], r.text
    # scrypt at 2^20 would have taken 1 GiB.
    assert vault.rss_kib("VmHWM") - hwm < 200 * 1024
    assert names(admin, vault, f) == []


def test_a_failed_import_stops_reading_its_body(vault, admin):
    """Once the unpacking has failed, the rest of the body is read only up to a
    bound (16 MiB), as for uploads, not to its end."""
    f = folder(vault, admin)
    total = 64 << 20
    sent = [0]

    def body():
        yield age_header(1)  # a password stanza, then no valid payload
        blk = b"\0" * (1 << 20)
        while sent[0] < total:
            sent[0] += len(blk)
            yield blk

    try:
        r = admin.post(vault.url + "folders/%s/imports" % f, data=body(),
                       headers={"X-Kinko-Package-Password": "x"})
        assert 400 <= r.status_code < 500, r.text
    except requests.exceptions.ConnectionError:
        pass  # cut off: the server closed the connection past the bound
    assert sent[0] < total
    assert names(admin, vault, f) == []


def test_imports_streaming_slowly_do_not_hold_back_others(vault, admin, tmp_path):
    """An import holds one of the 2 slots only while its package's key is derived,
    not while the rest of its body streams: two slow imports leave room."""
    import threading
    f = folder(vault, admin)
    pkgs = [zip_of(tmp_path, "p%d.zip" % i, {"f%d.txt" % i: os.urandom(300000)})
            for i in range(3)]
    go, results = threading.Event(), {}
    started = [threading.Event(), threading.Event()]

    def slow(i):
        data = pkgs[i].read_bytes()

        def body():
            yield data[:65536]
            started[i].set()
            go.wait(30)
            yield data[65536:]
        s = vault.login()
        results[i] = s.post(vault.url + "folders/%s/imports" % f, data=body(),
                            headers={"X-Kinko-Package-Password": PW})

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for e in started:
        assert e.wait(30)
    try:
        # Once the two have got past their key derivation (as soon as the server
        # has read their first bytes), a third is taken while they still stream.
        import time
        deadline = time.time() + 10
        while True:
            r = post(admin, vault, f, pkgs[2])
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 201, r.text
    finally:
        go.set()
        for t in threads:
            t.join(60)
    assert [results[i].status_code for i in range(2)] == [201, 201], [results[i].text for i in range(2)]
    assert names(admin, vault, f) == ["f0.txt", "f1.txt", "f2.txt"]


def test_an_import_whose_session_ends_while_it_streams_is_a_401(vault, admin, tmp_path):
    """Not a 400: the package was fine, the session was not (and stored nothing)."""
    f = folder(vault, admin)
    data = zip_of(tmp_path, "s.zip", {"s.txt": os.urandom(300000)}).read_bytes()
    s = vault.login()
    other = vault.session()
    other.headers["Authorization"] = s.headers["Authorization"]

    def body():
        yield data[:65536]
        assert other.post(vault.url + "logout").status_code == 200  # meanwhile
        yield data[65536:]

    r = s.post(vault.url + "folders/%s/imports" % f, data=body(),
               headers={"X-Kinko-Package-Password": PW})
    assert r.status_code == 401 and "nothing was stored" in r.json()["detail"], r.text
    assert names(admin, vault, f) == []
