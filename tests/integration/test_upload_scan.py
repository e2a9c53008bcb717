"""Every upload is scanned on the way in: EICAR refused, clamd down/hung/stale refused,
records counted, My Numbers kept out of folders not marked for them."""
import os
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import CLAMD, ROOT, Vault

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def folder(vault, admin, name="scan"):
    c = admin.post(vault.url + "contracts", json={"name": "scan"}).json()["id"]
    return c, admin.post(vault.url + "contracts/%s/folders" % c, json={"name": name}).json()["id"]


def put(s, vault, f, name, data):
    return s.put(vault.url + "folders/%s/objects" % f, params={"name": name}, data=data)


def listing(s, vault, f):
    return s.get(vault.url + "folders/%s/objects" % f).json()["items"]


def test_status_shows_the_scanner(vault):
    st = vault.session().get(vault.url + "status").json()["scanner"]
    assert st["ok"] and st["fresh"] and st["required"]
    assert st["engine"].count(".") >= 1 and st["signature_date"] > 0


def test_eicar_is_refused_plain_and_across_chunk_boundaries(vault, admin):
    _, f = folder(vault, admin)
    r = put(admin, vault, f, "eicar.txt", EICAR)
    assert r.status_code == 422, r.text
    assert "Eicar" in r.json()["detail"] or "EICAR" in r.json()["detail"]
    # Split across the 64 KiB chunk and 512 KiB batch boundaries.
    for off in (65536 - 30, 8 * 65536 - 10):
        data = b"a" * off + EICAR + b"b" * 1000
        r = put(admin, vault, f, "split-%d.bin" % off, data)
        assert r.status_code == 422, (off, r.text)
    assert listing(admin, vault, f) == []
    assert os.listdir(os.path.join(vault.dir, "blobs", "tmp")) == []
    time.sleep(0.2)
    assert "ALERT" in open(vault.log).read() and "malware detected" in open(vault.log).read()
    ev = [e for e in admin.get(vault.url + "log/events").json()["items"]
          if e["action"] == "object.put"]
    assert ev and all(e["status"] == 422 and e["result"] == "denied" for e in ev)
    # A clean file passes.
    assert put(admin, vault, f, "clean.txt", b"hello\n").status_code == 201


def clamd_log():
    with open(os.path.join(CLAMD["dir"], "clamd.log"), errors="replace") as fh:
        return fh.read()


def test_both_ways_to_hand_clamd_the_file(vault, admin):
    """pass_fd = true (the default) passes a sealed memory-only file (FILDES);
    false streams it (INSTREAM). Both refuse EICAR, split across batches, and pass
    a clean file; clamd's own log shows which way each took."""
    _, f = folder(vault, admin)
    data = b"a" * (8 * 65536 - 10) + EICAR + b"b" * 1000
    before = clamd_log()
    assert put(admin, vault, f, "fd.bin", data).status_code == 422
    new = clamd_log()[len(before):]
    assert "memfd:kinko-scan" in new and "FOUND" in new, new
    assert "instream" not in new
    vault.stop()
    with open(os.path.join(vault.dir, "kinko.conf"), "a") as c:
        c.write("\n[scan]\npass_fd = false\n")
    vault.start()
    s = vault.login()
    before = clamd_log()
    r = put(s, vault, f, "stream.bin", data)
    assert r.status_code == 422, r.text
    assert "Eicar" in r.json()["detail"] or "EICAR" in r.json()["detail"]
    new = clamd_log()[len(before):]
    assert "instream(local)" in new and "FOUND" in new, new
    assert put(s, vault, f, "clean.bin", b"c" * 700000).status_code == 201
    assert [o["name"] for o in listing(s, vault, f)] == ["clean.bin"]


def test_memory_for_scanning_is_bounded(vault, admin):
    """With pass_fd, uploads being scanned hold their plaintext in memory until the
    verdict; [scan] memory_max bounds all of them together. A file larger than all
    of it: 413 (more memory taken by other uploads: 503, in the unit tests), nothing
    stored, and the memory is given back for the next upload."""
    _, f = folder(vault, admin)
    vault.stop()
    with open(os.path.join(vault.dir, "kinko.conf"), "a") as c:
        c.write("\n[scan]\nmemory_max = 1M\n")
    vault.start()
    s = vault.login()
    r = put(s, vault, f, "big.bin", b"x" * (3 << 20))
    assert r.status_code == 413, r.text
    assert "memory_max" in r.json()["detail"]
    assert listing(s, vault, f) == []
    assert os.listdir(os.path.join(vault.dir, "blobs", "tmp")) == []
    for i in range(3):
        assert put(s, vault, f, "small%d.bin" % i, b"y" * (900 << 10)).status_code == 201


def test_records_are_counted_and_my_numbers_kept_out(vault, admin):
    _, f = folder(vault, admin)
    csv = "氏名,住所\r\n\"山田, 太郎\",\"東京都\n新宿区\"\r\n鈴木,大阪\r\n".encode("cp932")
    r = put(admin, vault, f, "list.csv", csv)
    assert r.status_code == 201, r.text
    assert r.json()["records"] == 3 and r.json()["encoding"] == "cp932"
    # 12 digits with a valid check digit under a 個人番号 header.
    mn = "氏名,個人番号\n山田,123456789018\n".encode("utf-8")
    r = put(admin, vault, f, "mn.csv", mn)
    assert r.status_code == 403, r.text
    assert "特定個人情報" in r.json()["detail"] and "123456789018" not in r.text
    assert admin.patch(vault.url + "folders/" + f,
                       json={"specific_personal": True}).status_code == 200
    r = put(admin, vault, f, "mn.csv", mn)
    assert r.status_code == 201, r.text
    assert r.json()["mynumber"] == {"count": 1, "confidence": "high"}
    log = open(os.path.join(vault.dir, "kinko.db"), "rb").read()
    assert b"123456789018" not in log


def restart_with_socket(vault, sock):
    vault.stop()
    conf = os.path.join(vault.dir, "kinko.conf")
    current = getattr(vault, "clamd_sock", CLAMD["sock"])
    text = open(conf).read().replace("clamd_socket = %s" % current, "clamd_socket = %s" % sock)
    open(conf, "w").write(text)
    vault.clamd_sock = sock
    vault.start()
    return vault.login()


def test_clamd_down_refuses_uploads_and_recovers(vault, admin, tmp_path):
    _, f = folder(vault, admin)
    s = restart_with_socket(vault, str(tmp_path / "nothing.sock"))
    r = put(s, vault, f, "x.txt", b"data")
    assert r.status_code == 503
    assert "virus scanner" in r.json()["detail"]
    assert vault.session().get(vault.url + "status").json()["scanner"]["ok"] is False
    s = restart_with_socket(vault, CLAMD["sock"])
    assert put(s, vault, f, "x.txt", b"data").status_code == 201


def test_hung_clamd_refuses_uploads_and_the_server_stays_up(vault, admin, tmp_path):
    _, f = folder(vault, admin)
    path = str(tmp_path / "hung.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])  # accept and never answer
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        with open(os.path.join(vault.dir, "kinko.conf"), "a") as c:
            c.write("\n[scan]\ntimeout_seconds = 5\n")
        # The duplicate [scan] section only repeats keys we did not set above.
        s = restart_with_socket(vault, path)
        t0 = time.time()
        r = put(s, vault, f, "x.txt", b"data")
        assert r.status_code == 503
        assert time.time() - t0 < 60
        assert vault.session().get(vault.url + "status").status_code == 200
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()
    s = restart_with_socket(vault, CLAMD["sock"])
    assert put(s, vault, f, "y.txt", b"data").status_code == 201
    assert [o["name"] for o in listing(s, vault, f)] == ["y.txt"]


def test_stale_signatures_refuse_uploads(tmp_path):
    d = tempfile.mkdtemp(prefix="kinko-st-", dir="/tmp")
    db = os.path.join(d, "db")
    os.makedirs(db)
    subprocess.run([os.path.join(ROOT, "scripts", "clamav-test-db"), db, "--date",
                    str(int(time.time()) - 3 * 86400)], check=True)
    out = subprocess.run([os.path.join(ROOT, "scripts", "clamd-start"), os.path.join(d, "c"), db],
                         check=True, capture_output=True, text=True, timeout=120)
    try:
        v = Vault(str(tmp_path))
        conf = os.path.join(v.dir, "kinko.conf")
        text = open(conf).read().replace(CLAMD["sock"], out.stdout.strip())
        with open(conf, "w") as fh:
            fh.write(text)
        v.start()
        try:
            s = v.login()
            st = s.get(v.url + "status").json()["scanner"]
            assert st["ok"] is False and st["fresh"] is False
            assert "freshclam" in st["reason"]
            _, f = folder(v, s)
            r = put(s, v, f, "x.txt", b"data")
            assert r.status_code == 503 and "signatures" in r.json()["detail"]
            assert listing(s, v, f) == []
        finally:
            v.stop()
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "clamd-stop"), os.path.join(d, "c")],
                       timeout=60)


def test_larger_than_clamd_can_scan_is_refused_before_the_body(vault, admin):
    import ssl
    _, f = folder(vault, admin)
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    with socket.create_connection(("127.0.0.1", vault.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            req = ("PUT /api/v1/folders/%s/objects?name=big HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: %s\r\nContent-Length: 3000000000\r\n\r\n"
                   % (f, admin.headers["Authorization"]))
            s.sendall(req.encode())
            answer = b""
            while True:  # the server closes after its answer
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "scan whole" in answer


def test_cli_marks_a_folder_for_my_numbers(vault, admin, tmp_path):
    _, f = folder(vault, admin)
    env = dict(os.environ, KINKO_SESSION=str(tmp_path / "s.json"))
    pw = tmp_path / "pw"
    pw.write_text(vault.admin_password + "\n")
    base = ["--url", vault.url[:-len("/api/v1/")], "--cacert", vault.ca,
            "--cert", vault.admin_cert[0], "--key", vault.admin_cert[1]]
    kinko_bin = os.environ.get("KINKO_BIN", os.path.join(ROOT, "build", "kinko"))
    subprocess.run([kinko_bin, "login", "--user", "admin", "--password-file", str(pw), *base],
                   check=True, capture_output=True, env=env)
    p = subprocess.run([kinko_bin, "folder", "mark", f, "specific"], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert admin.get(vault.url + "folders/" + f).json()["specific_personal"] is True
