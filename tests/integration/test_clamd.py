"""The scanning pass against a real clamd started by scripts/clamd-start.

Drives the C client through `kinko scan`, which prints one JSON object per file.
The EICAR test string is assembled here from two halves so the repository holds
no file an antivirus would flag.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINKO = os.environ.get("KINKO_BIN", os.path.join(ROOT, "build", "kinko"))
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/clamd"),
                                reason="clamav-daemon is not installed (scripts/install-deps)")


class Clamd:
    def __init__(self, dbdir=None, env=None):
        # Short path: a UNIX socket path must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="kinko-clamd-", dir="/tmp")
        args = [os.path.join(ROOT, "scripts", "clamd-start"), self.dir]
        if dbdir:
            args.append(dbdir)
        out = subprocess.run(args, check=True, capture_output=True, text=True,
                             env=dict(os.environ, **(env or {})), timeout=90)
        self.sock = out.stdout.strip()
        assert self.sock == os.path.join(self.dir, "clamd.sock")

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "clamd-stop"), self.dir], check=True,
                       timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def clamd():
    c = Clamd()
    yield c
    c.stop()


def scan(sock, *files, extra=()):
    args = [KINKO, "scan"] + list(extra)
    if sock:
        args += ["--clamd-socket", sock]
    p = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("transport", [[], ["--instream"]], ids=["fildes", "instream"])
def test_eicar_is_detected(clamd, tmp_path, transport):
    rc, out, err = scan(clamd.sock, write(tmp_path, "e.txt", EICAR), extra=transport)
    assert rc == 1
    assert out[0]["virus"] == {"result": "infected", "signature": "Kinko.Test.EICAR.UNOFFICIAL"}
    assert "infected" in err


@pytest.mark.parametrize("chunk", ["64K", "1000", "1"])
def test_eicar_split_across_64k_boundary(clamd, tmp_path, chunk):
    filler = b"id,name\r\n" * 8000
    data = filler[:65536 - 30] + EICAR + filler[:40000]
    if chunk == "1":
        data = data[:65536 + 200]  # byte-at-a-time reads: keep the file small
    rc, out, _ = scan(clamd.sock, write(tmp_path, "split.csv", data), extra=["--chunk", chunk])
    assert rc == 1
    assert out[0]["virus"]["result"] == "infected"
    assert out[0]["bytes"] == len(data)


def test_eicar_inside_larger_file_detected(clamd, tmp_path):
    data = os.urandom(3 * 1024 * 1024) + EICAR + os.urandom(1024 * 1024)
    rc, out, _ = scan(clamd.sock, write(tmp_path, "big.bin", data))
    assert rc == 1 and out[0]["virus"]["result"] == "infected"
    assert out[0]["format"] == "binary"


def test_clean_file_passes_and_is_counted(clamd, tmp_path):
    csv = "氏名,個人番号,memo\r\n山田,123456789018,\"a\r\nb\"\r\n鈴木,123456789012,x\r\n"
    f = write(tmp_path, "clean.csv", csv.encode("cp932"))
    rc, out, err = scan(clamd.sock, f, extra=["--header"])
    assert rc == 0, err
    r = out[0]
    assert r["virus"] == {"result": "clean"}
    assert r["encoding"] == "cp932" and r["format"] == "csv"
    assert r["records"] == 2
    assert r["mynumber"] == {"count": 1, "confidence": "high", "column": 1, "header_column": 1}
    # The numbers themselves never appear in the output.
    assert "123456789018" not in json.dumps(out) and "123456789012" not in json.dumps(out)


def test_empty_file_is_clean(clamd, tmp_path):
    rc, out, _ = scan(clamd.sock, write(tmp_path, "empty", b""))
    assert rc == 0
    assert out[0]["virus"]["result"] == "clean" and out[0]["records"] == 0


def test_version_of_custom_db(clamd):
    rc, out, _ = scan(clamd.sock, extra=["--clamd-version"])
    assert rc == 0
    engine = subprocess.run(["/usr/sbin/clamd", "--version"], capture_output=True,
                            text=True).stdout.split()[1].split("/")[0]
    assert out[0]["engine"] == engine
    # A custom .ndb has no daily version or date: never counted as fresh.
    assert out[0]["signature_version"] == 0 and out[0]["signature_date"] is None
    assert out[0]["fresh"] is False


@pytest.mark.parametrize("age,fresh", [(3600, True), (3 * 86400, False)])
def test_dated_signatures_and_freshness(tmp_path, age, fresh):
    date = int(time.time()) - age
    db = tmp_path / "db"
    subprocess.run([os.path.join(ROOT, "scripts", "clamav-test-db"), str(db), "--date",
                    str(date), "--version", "27123"], check=True, capture_output=True)
    c = Clamd(str(db))
    try:
        rc, out, _ = scan(c.sock, extra=["--clamd-version", "--max-age", "86400"])
        assert rc == 0
        assert out[0]["signature_version"] == 27123
        assert out[0]["signature_time"] == date
        assert out[0]["fresh"] is fresh
        # The dated container detects EICAR too.
        rc, out, _ = scan(c.sock, write(tmp_path, "e", EICAR))
        assert rc == 1 and out[0]["virus"]["result"] == "infected"
    finally:
        c.stop()


def test_stream_limit_is_refused(tmp_path):
    c = Clamd(env={"CLAMD_STREAM_MAX": "1M"})
    try:
        # StreamMaxLength bounds INSTREAM only.
        rc, out, err = scan(c.sock, write(tmp_path, "big.csv", b"a,b\n" * (600 * 1024)),
                            extra=["--instream"])
        assert rc == 1
        assert out[0]["virus"]["result"] == "error"
        assert "StreamMaxLength" in out[0]["virus"]["message"]
        assert "refused" in err
    finally:
        c.stop()


def test_stopped_clamd_fails_closed(tmp_path):
    c = Clamd()
    sock = c.sock
    c.stop()
    rc, out, err = scan(sock, write(tmp_path, "f.txt", b"hello\n"))
    assert rc == 1
    assert out[0]["virus"]["result"] == "error"
    assert "clamd-start" in out[0]["virus"]["message"]
    rc, _, err = scan(sock, extra=["--clamd-version"])
    assert rc == 1 and "clamd" in err


def test_pipe_input_scans_and_counts_in_one_read(clamd, tmp_path):
    """A pipe cannot be read twice: clamd and the counter share one read."""
    for data, verdict in ((b"a,b\r\n\"1\n2\",123456789018\r\n", "clean"),
                          (b"x" * 70000 + EICAR, "infected")):
        p = subprocess.run([KINKO, "scan", "--clamd-socket", clamd.sock, "/dev/stdin"],
                           input=data, capture_output=True, timeout=60)
        out = json.loads(p.stdout.decode().splitlines()[0])
        assert out["virus"]["result"] == verdict
        assert out["bytes"] == len(data)
        assert p.returncode == (0 if verdict == "clean" else 1)
    assert out["records"] == 1


def test_spool_is_on_tmpfs_and_removed(tmp_path):
    """clamd spools every stream (the plaintext of an upload) before scanning it:
    clamd-start keeps that spool on tmpfs, private, and clamd-stop removes it."""
    c = Clamd()
    try:
        conf = open(os.path.join(c.dir, "clamd.conf")).read()
        spool = [line.split(None, 1)[1] for line in conf.splitlines()
                 if line.startswith("TemporaryDirectory ")][0]
        assert os.path.realpath(os.path.join(c.dir, "tmp")) == spool
        st = os.stat(spool)
        assert st.st_mode & 0o777 == 0o700
        fs = subprocess.run(["stat", "-f", "-c", "%T", spool], capture_output=True,
                            text=True, check=True).stdout.strip()
        assert fs == "tmpfs"
        rc, out, _ = scan(c.sock, write(tmp_path, "ok.txt", b"hello\n"))
        assert rc == 0 and out[0]["virus"]["result"] == "clean"
    finally:
        c.stop()
    assert not os.path.exists(spool)


def test_no_tmpfs_refuses_to_start(tmp_path):
    """Without a tmpfs for the spool, clamd-start stops rather than spool uploads to
    a disk, unless CLAMD_TMPDIR names a directory."""
    d = tempfile.mkdtemp(prefix="kinko-clamd-", dir="/tmp")
    try:
        # /dev/shm stands in for the tmpfs check; point it at a disk directory by
        # running the script with a fake `stat` that reports ext2/ext3.
        fakebin = tmp_path / "bin"
        fakebin.mkdir()
        (fakebin / "stat").write_text("#!/bin/sh\necho ext2/ext3\n")
        (fakebin / "stat").chmod(0o755)
        p = subprocess.run([os.path.join(ROOT, "scripts", "clamd-start"), d],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PATH=f"{fakebin}:{os.environ['PATH']}"))
        assert p.returncode != 0
        assert "CLAMD_TMPDIR" in p.stderr
        assert not os.path.exists(os.path.join(d, "clamd.pid"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
