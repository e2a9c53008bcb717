"""The vault over the real server: sealing, accounts, folders, objects, limits."""
import hashlib
import os
import socket
import ssl
import subprocess
import threading

import requests

from conftest import Vault, kinko


def make_folder(vault, admin, name="受付データ"):
    c = admin.post(vault.url + "contracts", json={"name": "新宿区 区民課 入力業務"})
    assert c.status_code == 201, c.text
    f = admin.post(vault.url + "contracts/%s/folders" % c.json()["id"], json={"name": name})
    assert f.status_code == 201, f.text
    return c.json()["id"], f.json()["id"]


def put(s, vault, folder, name, data, **kw):
    return s.put(vault.url + "folders/%s/objects" % folder, params={"name": name}, data=data,
                 **kw)


def test_status_answers_and_every_response_has_a_request_id(vault):
    r = vault.session().get(vault.url + "status")
    assert r.status_code == 200
    assert r.json()["sealed"] is False
    assert len(r.headers["X-Request-Id"]) == 32
    r = vault.session().get(vault.url + "contracts")
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["type"] == "urn:kinko:problem:unauthenticated"
    assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_upload_download_roundtrip_and_range(vault, admin):
    _, folder = make_folder(vault, admin)
    data = os.urandom(3 * 65536 + 12345)
    r = put(admin, vault, folder, "住民一覧.csv", data)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["sha256"] == hashlib.sha256(data).hexdigest()
    assert obj["size"] == len(data)
    assert obj["name"] == "住民一覧.csv"
    g = admin.get(vault.url + "objects/" + obj["id"])
    assert g.status_code == 200 and g.content == data
    assert g.headers["X-Kinko-SHA256"] == obj["sha256"]
    for rng, lo, hi in [("bytes=0-0", 0, 0), ("bytes=65530-65545", 65530, 65545),
                        ("bytes=-100", len(data) - 100, len(data) - 1),
                        ("bytes=200000-", 200000, len(data) - 1)]:
        g = admin.get(vault.url + "objects/" + obj["id"], headers={"Range": rng})
        assert g.status_code == 206, rng
        assert g.content == data[lo:hi + 1], rng
        assert g.headers["Content-Range"] == "bytes %d-%d/%d" % (lo, hi, len(data))
    g = admin.get(vault.url + "objects/" + obj["id"], headers={"Range": "bytes=999999-"})
    assert g.status_code == 416
    h = admin.head(vault.url + "objects/" + obj["id"])
    assert h.status_code == 200 and h.headers["X-Kinko-Size"] == str(len(data))
    # Listing shows it; deleting removes it.
    ls = admin.get(vault.url + "folders/%s/objects" % folder).json()["items"]
    assert [o["id"] for o in ls] == [obj["id"]]
    assert admin.delete(vault.url + "objects/" + obj["id"]).status_code == 200
    assert admin.get(vault.url + "objects/" + obj["id"]).status_code == 404


def test_empty_and_exact_chunk_multiple_objects(vault, admin):
    _, folder = make_folder(vault, admin)
    for i, size in enumerate([0, 1, 65536, 65536 * 8, 65536 * 8 + 1, 65536 * 16]):
        data = os.urandom(size)
        r = put(admin, vault, folder, "f%d" % i, data)
        assert r.status_code == 201, r.text
        g = admin.get(vault.url + "objects/" + r.json()["id"])
        assert g.content == data, size


def test_chunked_transfer_encoding_upload(vault, admin):
    _, folder = make_folder(vault, admin)
    parts = [os.urandom(100000) for _ in range(5)]
    r = put(admin, vault, folder, "chunked.bin", iter(parts))
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


def test_no_plaintext_names_or_keys_in_the_data_directory(vault, admin):
    _, folder = make_folder(vault, admin, name="FOLDERMARKER-フォルダ")
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    content = marker * 5000
    name = "NAMEMARKER-個人番号一覧.csv"
    for i in range(3):
        assert put(admin, vault, folder, "%d-%s" % (i, name), content).status_code == 201
    key = open(vault.keyfile, "rb").read()
    needles = [marker, name.encode(), "NAMEMARKER".encode(), b"FOLDERMARKER",
               "フォルダ".encode(), key, key.hex().encode()]
    seen = 0
    for root, _, files in os.walk(vault.dir):
        for fn in files:
            blob = open(os.path.join(root, fn), "rb").read()
            seen += 1
            for n in needles:
                assert n not in blob, (fn, n[:16])
    assert seen >= 5  # db, wal, blobs, certificates were all looked at


def test_hostile_names_are_refused_and_change_nothing(vault, admin):
    _, folder = make_folder(vault, admin)
    bad = ["../etc/passwd", "a/b", "..", ".", "x" * 10240, "e\u0301.txt",  # NFD
           "tab\there", "back\\slash", ""]
    for name in bad:
        r = put(admin, vault, folder, name, b"data")
        assert 400 <= r.status_code < 500, (name[:20], r.status_code)
    # NUL cannot be sent through requests' params; send it raw.
    r = admin.put(vault.url + "folders/%s/objects?name=a%%00b" % folder, data=b"x")
    assert r.status_code == 400
    assert admin.get(vault.url + "folders/%s/objects" % folder).json()["items"] == []
    assert os.listdir(os.path.join(vault.dir, "blobs", "tmp")) == []


def test_malformed_json_and_oversized_bodies(vault, admin):
    before = admin.get(vault.url + "contracts").json()["items"]
    for body in [b"{", b"[]", b'{"name": 5}', b'{"name":"a","name":"b"}', b"\xff\xfe",
                 b'{"name": "ok", "extra": 1}']:
        r = admin.post(vault.url + "contracts", data=body,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400, body
        assert r.json()["status"] == 400
    # Too long by Content-Length: the body is read and dropped, then answered, so a
    # client that sends it all before reading (as requests does) gets the 413, not
    # a connection closed under it (this raced under load before).
    for i in range(5):
        r = admin.post(vault.url + "contracts", data=b"{" + b" " * (70 * 1024) + b"}")
        assert r.status_code == 413 and r.json()["type"].endswith("too-large")
    r = admin.post(vault.url + "contracts", data=iter([b"{", b" " * (70 * 1024), b"}"]))
    assert r.status_code == 413
    # Declared over 16 MiB: answered at once, before the body.
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    with socket.create_connection((vault.host, vault.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            t.sendall(("POST /api/v1/contracts HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % (admin.headers["Authorization"], 17 << 20)).encode())
            answer = b""
            while chunk := t.recv(65536):  # closed after the answer
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert admin.get(vault.url + "contracts").json()["items"] == before


def test_duplicate_name_conflicts(vault, admin):
    _, folder = make_folder(vault, admin)
    assert put(admin, vault, folder, "same", b"1").status_code == 201
    r = put(admin, vault, folder, "same", b"2")
    assert r.status_code == 409
    assert len(admin.get(vault.url + "folders/%s/objects" % folder).json()["items"]) == 1


def test_seal_and_unseal_over_the_api(tmp_path):
    v = Vault(str(tmp_path))
    pp = os.path.join(str(tmp_path), "pp")
    # A passphrase vault, started sealed.
    with open(pp, "w") as f:
        f.write("correct horse battery staple\n")
    d = os.path.join(str(tmp_path), "pv")
    kinko("init", "--dir", d, "--passphrase-file", pp)
    v.dir = d
    v.ca = os.path.join(d, "tls", "ca.pem")
    v.admin_cert = (os.path.join(d, "clients", "admin", "client.pem"),
                    os.path.join(d, "clients", "admin", "client.key"))
    with open(os.path.join(d, "kinko.conf"), "a") as f:
        f.write("\n[server]\nlisten = 127.0.0.1:%d\n" % v.port)
    v.start(unseal=False)
    try:
        s = v.session()
        assert s.get(v.url + "status").json()["sealed"] is True
        r = s.post(v.url + "login", json={"user": "admin", "password": "x" * 12})
        assert r.status_code == 503 and r.json()["type"] == "urn:kinko:problem:sealed"
        r = s.post(v.url + "unseal", json={"passphrase": "wrong passphrase"})
        assert r.status_code == 401
        r = s.post(v.url + "unseal", json={"passphrase": "correct horse battery staple"})
        assert r.status_code == 200, r.text
        assert s.get(v.url + "status").json()["sealed"] is False
    finally:
        v.stop()


def test_restart_keeps_data_and_collects_orphans(vault, admin):
    _, folder = make_folder(vault, admin)
    data = os.urandom(200000)
    oid = put(admin, vault, folder, "keep", data).json()["id"]
    orphan = os.path.join(vault.dir, "blobs", "tmp", "00000000-0000-4000-8000-000000000000.part")
    with open(orphan, "wb") as f:
        f.write(b"left by a crash")
    vault.stop()
    vault.start()
    assert not os.path.exists(orphan)
    s = vault.login()
    assert s.get(vault.url + "objects/" + oid).content == data


def test_concurrent_uploads(vault, admin):
    _, folder = make_folder(vault, admin)
    blobs = {("c%d" % i): os.urandom(300000 + i) for i in range(6)}
    results = {}

    def up(name):
        s = vault.login()
        results[name] = put(s, vault, folder, name, blobs[name])

    ts = [threading.Thread(target=up, args=(n,)) for n in blobs]
    [t.start() for t in ts]
    [t.join() for t in ts]
    for name, r in results.items():
        assert r.status_code == 201, r.text
        assert admin.get(vault.url + "objects/" + r.json()["id"]).content == blobs[name]


def test_init_server_names_and_bad_input_leaves_nothing(tmp_path):
    """--server-name puts the names clients use into the server certificate (beside
    the loopback names); a bad name, or any other refused input, creates nothing."""
    key = tmp_path / "k"
    key.write_bytes(os.urandom(32))
    d = tmp_path / "named"
    kinko("init", "--dir", str(d), "--key-file", str(key),
          "--server-name", "kinko.example.lg.jp", "--server-name", "192.0.2.10")
    san = subprocess.run(["openssl", "x509", "-in", str(d / "tls" / "server.pem"), "-noout",
                          "-ext", "subjectAltName"], capture_output=True, text=True,
                         check=True).stdout
    for name in ("DNS:localhost", "IP Address:127.0.0.1", "DNS:kinko.example.lg.jp",
                 "IP Address:192.0.2.10"):
        assert name in san
    bad = tmp_path / "bad"
    p = kinko("init", "--dir", str(bad), "--key-file", str(key), "--server-name", "a b",
              check=False)
    assert p.returncode == 1 and '"a b"' in p.stderr
    assert not bad.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    p = kinko("init", "--dir", str(empty), "--key-file", str(key), "--server-name",
              "-bad-.example", check=False)
    assert p.returncode == 1
    assert list(empty.iterdir()) == []


def test_a_seal_cuts_a_slow_download(vault, admin):
    """A client that reads a download slowly cannot hold the seal (and the key in
    memory) off: the seal cuts its connection and answers at once."""
    import socket
    import ssl
    import threading
    import time
    size = 32 << 20
    c = admin.post(vault.url + "contracts", json={"name": "c"}).json()["id"]
    f = admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "f"}).json()["id"]
    r = admin.put(vault.url + "folders/%s/objects?name=big" % f, data=os.urandom(size))
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    raw = socket.create_connection(("127.0.0.1", vault.port), timeout=20)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    t = ctx.wrap_socket(raw, server_hostname="localhost")
    t.sendall(("GET /api/v1/objects/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
               % (oid, admin.headers["Authorization"])).encode())
    got = len(t.recv(4096))
    state = {}

    def trickle():  # 1 KiB a second until the seal is answered: never idle
        nonlocal got
        while "sealed" not in state:
            got += len(t.recv(1024))
            time.sleep(1)

    th = threading.Thread(target=trickle)
    th.start()
    time.sleep(2)
    t0 = time.time()
    r = admin.post(vault.url + "seal", timeout=20)
    state["sealed"] = time.time() - t0
    th.join(timeout=30)
    assert r.status_code == 200 and r.json()["sealed"] is True, r.text
    # Without the cut the seal waits for the download to end: 32 MiB at 1 KiB/s.
    assert state["sealed"] < 10, state
    t.close()
    # Sealed, a second seal is answered like every route that needs a session.
    r = admin.post(vault.url + "seal", timeout=20)
    assert r.status_code == 503 and r.json()["type"].endswith(":sealed"), r.text
    vault.stop()
    vault.start()


def open_fds(vault):
    return len(os.listdir("/proc/%d/fd" % vault.proc.pid))


def test_unsatisfiable_ranges_do_not_leak_descriptors(vault, admin):
    """A 416 frees what the download took, the socket it dup()ed included."""
    _, folder = make_folder(vault, admin)
    data = os.urandom(1000)
    oid = put(admin, vault, folder, "r", data).json()["id"]
    url = vault.url + "objects/" + oid
    assert admin.get(url, headers={"Range": "bytes=0-0"}).status_code == 206
    before = open_fds(vault)
    for _ in range(50):
        r = admin.get(url, headers={"Range": "bytes=%d-" % len(data)})
        assert r.status_code == 416
        assert r.headers["Content-Range"] == "bytes */%d" % len(data)
    assert open_fds(vault) <= before + 3, (before, open_fds(vault))
    assert admin.get(url).content == data


def test_malformed_suffix_ranges_are_ignored(vault, admin):
    _, folder = make_folder(vault, admin)
    data = os.urandom(5000)
    oid = put(admin, vault, folder, "s", data).json()["id"]
    url = vault.url + "objects/" + oid
    for rng in ["bytes=-", "bytes=-abc", "bytes=--5", "bytes=-5x"]:
        g = admin.get(url, headers={"Range": rng})
        assert g.status_code == 200, rng
        assert g.content == data and "Content-Range" not in g.headers, rng
    g = admin.get(url, headers={"Range": "bytes=-0"})
    assert g.status_code == 416
    assert g.headers["Content-Range"] == "bytes */%d" % len(data)


def test_head_states_the_object_size(vault, admin):
    """HEAD carries GET's headers (Content-Length the object's size) and no body."""
    _, folder = make_folder(vault, admin)
    for size in [0, 1, 65536 * 3 + 7]:
        data = os.urandom(size)
        oid = put(admin, vault, folder, "h%d" % size, data).json()["id"]
        url = vault.url + "objects/" + oid
        h = admin.head(url, timeout=10)
        assert h.status_code == 200
        assert h.headers["Content-Length"] == str(size), h.headers
        assert h.headers["X-Kinko-Size"] == str(size)
        g = admin.get(url, timeout=10)
        assert g.headers["Content-Length"] == str(size)
        for k in ["ETag", "X-Kinko-SHA256", "Content-Disposition", "Accept-Ranges"]:
            assert h.headers[k] == g.headers[k], k
        assert g.content == data
    # No byte follows the HEAD's headers before the connection ends (and it ends:
    # nothing waits for a body that never comes).
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    with socket.create_connection((vault.host, vault.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            t.sendall(("HEAD /api/v1/objects/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                       "Connection: close\r\n\r\n"
                       % (oid, admin.headers["Authorization"])).encode())
            answer = b""
            while chunk := t.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert b"\r\nContent-Length: %d\r\n" % size in answer
    assert answer.endswith(b"\r\n\r\n") and answer.count(b"\r\n\r\n") == 1, answer[-100:]


def test_the_log_takes_only_known_methods(vault):
    """A method reaches the server's log only when it is one kinko knows: a client
    (even one without a certificate) cannot write escapes or fields into it."""
    forged = [b"G\x1b[31mET", b"GET\tstatus=200\tuser=forged", b"FORGED"]
    for cert in [vault.admin_cert, None]:
        ctx = ssl.create_default_context(cafile=vault.ca)
        if cert:
            ctx.load_cert_chain(*cert)
        for method in forged:
            with socket.create_connection((vault.host, vault.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    t.sendall(method + b" /api/v1/status HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
                    answer = b""
                    while chunk := t.recv(65536):
                        answer += chunk
            assert answer.startswith(b"HTTP/1.1 405" if cert else b"HTTP/1.1 403"), answer[:100]
    with open(vault.log, "rb") as f:
        log = f.read()
    assert b"\x1b" not in log and b"\t" not in log and b"forged" not in log
    assert b"FORGED" not in log
    assert log.count(b"method=? path=/api/v1/status status=405") == 3, log[-2000:]
    # Refused for the certificate before the path is read.
    assert log.count(b"method=? path=/api/v1 status=403") == 3, log[-2000:]
    # Known methods are still written as they are.
    vault.session().head(vault.url + "status")
    vault.session().options(vault.url + "status")
    with open(vault.log, "rb") as f:
        log = f.read()
    assert b"method=HEAD path=/api/v1/status" in log
    assert b"method=OPTIONS path=/api/v1/status" in log


def raw_request(vault, head, body=b""):
    """One request over its own connection, answered and closed: the whole answer."""
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    with socket.create_connection((vault.host, vault.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            t.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
            answer = b""
            while chunk := t.recv(65536):
                answer += chunk
    return answer


def test_content_length_that_is_not_a_number(vault, admin):
    """As api.md says: libmicrohttpd answers it (HTML, no request ID) unless the body
    is chunked, when kinko does."""
    _, folder = make_folder(vault, admin)
    head = ("PUT /api/v1/folders/%s/objects?name=n HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
            % (folder, admin.headers["Authorization"]))
    for cl, status in [("abc", 400), ("+5", 400), ("", 400), ("99999999999999999999999", 413)]:
        a = raw_request(vault, head + "Content-Length: %s\r\n" % cl, b"hello")
        assert a.startswith(b"HTTP/1.1 %d" % status), (cl, a[:200])
        assert b"X-Request-Id" not in a and b"<html>" in a, (cl, a[:300])
    a = raw_request(vault, head + "Content-Length: abc\r\nTransfer-Encoding: chunked\r\n",
                    b"5\r\nhello\r\n0\r\n\r\n")
    assert a.startswith(b"HTTP/1.1 400") and b"urn:kinko:problem:invalid-request" in a, a
    assert admin.get(vault.url + "folders/%s/objects" % folder).json()["items"] == []


def test_a_file_clamd_cannot_scan_whole_is_refused_before_its_body(vault, admin):
    """Declared over 2 GiB - 3 bytes with scanning required: 413 at once."""
    _, folder = make_folder(vault, admin)
    a = raw_request(vault, "PUT /api/v1/folders/%s/objects?name=big HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: %s\r\nContent-Length: %d\r\n"
                    % (folder, admin.headers["Authorization"], 2147483646))
    assert a.startswith(b"HTTP/1.1 413") and b"urn:kinko:problem:too-large" in a, a[:300]
    assert b"virus scanner" in a
