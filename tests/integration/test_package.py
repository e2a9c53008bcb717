"""kinko package seal|open|notice against the real age, age-keygen and 7z tools.

Every failure case checks the exit status, the message and that the output
folder is left exactly as it was (empty).
"""

import ctypes
import ctypes.util
import hashlib
import hmac
import os
import pty
import re
import resource
import select
import shutil
import struct
import subprocess
import time
import zlib

import pytest

KINKO = os.environ.get("KINKO_BIN", os.path.join(os.path.dirname(__file__), "../../build/kinko"))
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("age", "age-keygen", "7z")),
    reason="age, age-keygen and 7z are needed (scripts/install-deps installs them)",
)


def run(*args, check=False, **kw):
    p = subprocess.run([KINKO, *args], capture_output=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"kinko {args} failed: {p.stderr.decode()}")
    return p


@pytest.fixture
def w(tmp_path):
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "wrong").write_text("not the password\n")
    return tmp_path


def seal(w, fmt, *inputs, out=None, extra=()):
    out = out or str(w / ("p." + fmt))
    args = ["package", "seal", "--format", fmt, "--out", out]
    if fmt == "age" and "--recipient" not in extra:
        args += ["--scrypt-log-n", "10"]
    if "--recipient" not in extra:
        args += ["--password-file", str(w / "pw")]
    run(*args, *extra, *map(str, inputs), check=True)
    return out


def open_fails(w, package, pattern, *extra, key=None):
    out = w / "out"
    out.mkdir(exist_ok=True)
    key = key or ["--password-file", str(w / "pw")]
    p = run("package", "open", *key, "--out", str(out), *extra, str(package))
    assert p.returncode == 1, p.stdout
    msg = p.stderr.decode()
    assert re.search(pattern, msg), msg
    assert os.listdir(out) == [], "a failed open left files behind"
    return msg


def age_tty(args, passphrase, timeout=60):
    """Runs the age tool with a pseudo-terminal and types the passphrase at each prompt."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(args[0], args)
    seen, answered, deadline = b"", 0, time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
            while seen.lower().count(b"passphrase") > answered:
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
        elif os.waitpid(pid, os.WNOHANG)[0]:
            os.close(fd)
            return 0
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


# --- age --------------------------------------------------------------------


def test_age_passphrase_kinko_to_age(w):
    data = os.urandom(300_000)
    (w / "report.csv").write_bytes(data)
    pkg = seal(w, "age", w / "report.csv", out=str(w / "report.csv.age"))
    assert open(pkg, "rb").read().startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert age_tty(["age", "-d", "-o", str(w / "dec"), pkg], PASSWORD) == 0
    assert (w / "dec").read_bytes() == data


def test_age_passphrase_age_to_kinko(w):
    data = os.urandom(200_000) * 2
    (w / "in.bin").write_bytes(data)
    pkg = w / "in.bin.age"
    assert age_tty(["age", "-p", "-o", str(pkg), str(w / "in.bin")], PASSWORD) == 0
    assert pkg.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    p = run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"), str(pkg))
    assert p.returncode == 0, p.stderr
    assert (w / "o" / "in.bin").read_bytes() == data


def keypair(w, name="id.txt"):
    subprocess.run(["age-keygen", "-o", str(w / name)], check=True, capture_output=True)
    pub = subprocess.run(["age-keygen", "-y", str(w / name)], check=True,
                         capture_output=True, text=True).stdout.strip()
    return w / name, pub


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 3 * 65536, 1_000_003])
def test_age_x25519_both_directions(w, size):
    ident, pub = keypair(w)
    data = os.urandom(size)
    (w / "f").write_bytes(data)
    # kinko seals, age opens
    pkg = seal(w, "age", w / "f", out=str(w / "k.age"), extra=("--recipient", pub))
    dec = subprocess.run(["age", "-d", "-i", str(ident), pkg], capture_output=True)
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout == data
    # age seals, kinko opens
    subprocess.run(["age", "-e", "-r", pub, "-o", str(w / "a.age"), str(w / "f")], check=True)
    p = run("package", "open", "--identity", str(ident), "--out", str(w / "o"),
            "--name", "plain.bin", str(w / "a.age"))
    assert p.returncode == 0, p.stderr
    assert (w / "o" / "plain.bin").read_bytes() == data


def test_age_several_recipients_and_foreign_stanzas(w):
    ident1, pub1 = keypair(w, "a.txt")
    ident2, pub2 = keypair(w, "b.txt")
    (w / "f").write_bytes(b"x" * 1000)
    subprocess.run(["age", "-e", "-r", pub1, "-r", pub2, "-o", str(w / "m.age"), str(w / "f")],
                   check=True)
    assert run("package", "open", "--identity", str(ident2), "--out", str(w / "o"),
               str(w / "m.age")).returncode == 0
    assert (w / "o" / "m").read_bytes() == b"x" * 1000
    _, pub3 = keypair(w, "c.txt")
    subprocess.run(["age", "-e", "-r", pub3, "-o", str(w / "n.age"), str(w / "f")], check=True)
    open_fails(w, w / "n.age", "none of the given identities", key=["--identity", str(ident1)])


def test_identity_files_with_a_nul_byte_are_refused_at_once(w):
    ident, pub = keypair(w, "good.txt")
    (w / "f").write_bytes(b"x" * 100)
    subprocess.run(["age", "-e", "-r", pub, "-o", str(w / "p.age"), str(w / "f")], check=True)
    for name, text in [("nul-line", b"\0\n"),
                       ("after-comment", b"# c\0x\n" + ident.read_bytes())]:
        (w / name).write_bytes(text)
        open_fails(w, w / "p.age", "holds a NUL byte", key=["--identity", str(w / name)])


def test_age_wrong_password(w):
    (w / "f").write_bytes(b"secret data")
    pkg = seal(w, "age", w / "f")
    open_fails(w, pkg, "wrong password", key=["--password-file", str(w / "wrong")])


def test_age_every_changed_byte_fails(w):
    (w / "f").write_bytes(os.urandom(100))
    pkg = seal(w, "age", w / "f")
    orig = open(pkg, "rb").read()
    bad = w / "bad.age"
    for i in range(len(orig)):
        bad.write_bytes(orig[:i] + bytes([orig[i] ^ 0x01]) + orig[i + 1:])
        open_fails(w, bad, "changed|damaged|malformed|not an age|wrong password|truncated|"
                   "neither|canonical|not sealed")


def test_age_truncated_fails(w):
    (w / "f").write_bytes(os.urandom(3 * 65536 + 10))
    pkg = seal(w, "age", w / "f")
    orig = open(pkg, "rb").read()
    bad = w / "t.age"
    hdr = orig.index(b"\n---") + 49
    for cut in [0, 10, hdr - 5, hdr, hdr + 16, hdr + 16 + 65536 + 16, len(orig) - 1,
                len(orig) - 11]:
        bad.write_bytes(orig[:cut])
        open_fails(w, bad, "truncated|changed|neither")
    # Cut exactly at a chunk boundary: only the missing last-chunk flag tells.
    bad.write_bytes(orig[:hdr + 16 + 2 * (65536 + 16)])
    open_fails(w, bad, "changed, damaged or truncated")


def test_age_unknown_stanza_fails(w):
    (w / "f").write_bytes(b"data")
    pkg = seal(w, "age", w / "f")
    orig = open(pkg, "rb").read()
    lines = orig.split(b"\n")
    # An extra stanza of an unknown type next to the passphrase stanza.
    extra = b"\n".join(lines[:3] + [b"-> kinko-unknown-type abc", b"AAAA"] + lines[3:])
    (w / "u.age").write_bytes(extra)
    open_fails(w, w / "u.age", "scrypt.*next to other stanzas")
    # The passphrase stanza replaced by an unknown one.
    only = b"\n".join(lines[:1] + [b"-> kinko-unknown-type abc", b"AAAA"] + lines[3:])
    (w / "v.age").write_bytes(only)
    open_fails(w, w / "v.age", "not sealed with a passphrase.*kinko-unknown-type")
    ident, _ = keypair(w)
    open_fails(w, w / "v.age", "none of the given identities.*kinko-unknown-type",
               key=["--identity", str(ident)])


def test_age_limit_on_bytes(w):
    (w / "f").write_bytes(b"z" * 200_000)
    pkg = seal(w, "age", w / "f")
    open_fails(w, pkg, "limit of 100000 bytes", "--max-bytes", "100000")


# --- zip --------------------------------------------------------------------


def test_zip_kinko_to_7z(w):
    src = w / "src"
    src.mkdir()
    files = {"住民一覧.csv": "氏名,住所\n山田太郎,新宿区\n".encode() * 1000,
             "random.bin": os.urandom(500_000), "empty.txt": b""}
    for n, d in files.items():
        (src / n).write_bytes(d)
    pkg = seal(w, "zip", *[src / n for n in files])
    lst = subprocess.run(["7z", "l", "-slt", "-p" + PASSWORD, pkg], capture_output=True,
                         text=True, check=True).stdout
    assert lst.count("Method = AES-256") == 3, lst
    assert "住民一覧.csv" in lst
    raw = open(pkg, "rb").read()
    flags = struct.unpack("<H", raw[6:8])[0]
    assert flags & 0x0800 and flags & 0x0001  # UTF-8 names, encrypted
    assert b"\x01\x99\x07\x00\x02\x00AE\x03" in raw  # AES extra: AE-2, AES-256
    out = w / "x"
    t = subprocess.run(["7z", "x", "-p" + PASSWORD, "-o" + str(out), pkg], capture_output=True,
                       text=True)
    assert t.returncode == 0, t.stdout + t.stderr
    for n, d in files.items():
        assert (out / n).read_bytes() == d
    bad = subprocess.run(["7z", "t", "-pwrong", pkg], capture_output=True, text=True)
    assert bad.returncode != 0


def test_zip_7z_to_kinko(w):
    src = w / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello " * 10000)
    (src / "sub" / "b.bin").write_bytes(os.urandom(70000))
    (src / "sub" / "名前.txt").write_text("日本語")
    subprocess.run(["7z", "a", "-tzip", "-mem=AES256", "-p" + PASSWORD, str(w / "s.zip"), "."],
                   cwd=src, check=True, capture_output=True)
    p = run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"),
            str(w / "s.zip"))
    assert p.returncode == 0, p.stderr
    assert (w / "o" / "a.txt").read_bytes() == b"hello " * 10000
    assert (w / "o" / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert (w / "o" / "sub" / "名前.txt").read_text() == "日本語"
    # Stored (no compression) entries too.
    subprocess.run(["7z", "a", "-tzip", "-mx=0", "-mem=AES256", "-p" + PASSWORD,
                    str(w / "st.zip"), "a.txt"], cwd=src, check=True, capture_output=True)
    assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o2"),
               str(w / "st.zip")).returncode == 0
    assert (w / "o2" / "a.txt").read_bytes() == b"hello " * 10000


def test_zip_round_trip_kinko(w):
    (w / "a").write_bytes(os.urandom(1_000_000))
    (w / "b").write_bytes(b"")
    for level in ("1", "6", "9"):
        pkg = seal(w, "zip", w / "a", w / "b", out=str(w / f"l{level}.zip"),
                   extra=("--level", level))
        o = w / f"o{level}"
        assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(o),
                   pkg).returncode == 0
        assert (o / "a").read_bytes() == (w / "a").read_bytes()
        assert (o / "b").read_bytes() == b""


def test_zip_level_zero_refused(w):
    (w / "f").write_bytes(b"x")
    p = run("package", "seal", "--format", "zip", "--password-file", str(w / "pw"), "--level",
            "0", "--out", str(w / "z.zip"), str(w / "f"))
    assert p.returncode == 2 and not (w / "z.zip").exists()


def test_zip_wrong_password(w):
    (w / "f").write_bytes(b"data" * 100)
    pkg = seal(w, "zip", w / "f")
    open_fails(w, pkg, "wrong password", key=["--password-file", str(w / "wrong")])


def test_zip_every_changed_byte_fails(w):
    (w / "f").write_bytes(os.urandom(64))
    pkg = seal(w, "zip", w / "f")
    orig = open(pkg, "rb").read()
    bad = w / "bad.zip"
    for i in range(len(orig)):
        bad.write_bytes(orig[:i] + bytes([orig[i] ^ 0x01]) + orig[i + 1:])
        open_fails(w, bad, "changed|damaged|malformed|wrong password|truncated|neither|"
                   "refused|does not verify|ZipCrypto|shorter than|compression method")


def test_zip_truncated_fails(w):
    (w / "f").write_bytes(os.urandom(200_000))
    pkg = seal(w, "zip", w / "f")
    orig = open(pkg, "rb").read()
    for cut in [4, 30, 60, 100, 1000, 150_000, len(orig) - 200, len(orig) - 22, len(orig) - 1]:
        (w / "t.zip").write_bytes(orig[:cut])
        open_fails(w, w / "t.zip", "truncated|changed|malformed")


def test_zip_zipcrypto_refused(w):
    (w / "f").write_text("hello")
    subprocess.run(["7z", "a", "-tzip", "-mem=ZipCrypto", "-p" + PASSWORD, str(w / "zc.zip"),
                    str(w / "f")], check=True, capture_output=True)
    open_fails(w, w / "zc.zip", "ZipCrypto")


def test_zip_aes128_refused(w):
    (w / "f").write_text("hello")
    subprocess.run(["7z", "a", "-tzip", "-mem=AES128", "-p" + PASSWORD, str(w / "a.zip"),
                    str(w / "f")], check=True, capture_output=True)
    open_fails(w, w / "a.zip", "shorter than 256 bits")


def test_zip_unencrypted_entry_refused(w):
    (w / "f").write_text("hello")
    subprocess.run(["7z", "a", "-tzip", str(w / "plain.zip"), str(w / "f")], check=True,
                   capture_output=True)
    open_fails(w, w / "plain.zip", "unencrypted entry")
    # One encrypted entry followed by a plain one appended with -p omitted.
    (w / "g").write_text("second")
    subprocess.run(["7z", "a", "-tzip", "-mem=AES256", "-p" + PASSWORD, str(w / "mix.zip"),
                    str(w / "f")], check=True, capture_output=True)
    subprocess.run(["7z", "a", "-tzip", str(w / "mix.zip"), str(w / "g")], check=True,
                   capture_output=True)
    open_fails(w, w / "mix.zip", "unencrypted entry")


def test_zip_symlink_refused(w):
    src = w / "src"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    os.symlink("/etc/passwd", src / "link")
    subprocess.run(["7z", "a", "-tzip", "-snl", "-mem=AES256", "-p" + PASSWORD,
                    str(w / "l.zip"), "ok.txt", "link"], cwd=src, check=True,
                   capture_output=True)
    open_fails(w, w / "l.zip", "symbolic link")


# A minimal WinZip AES writer for hostile archives 7-Zip will not make (names that
# escape, links, bombs). AES comes from nettle through ctypes.
_nettle = ctypes.CDLL(ctypes.util.find_library("nettle"))


def _aes_ctr_le(key, data):
    ctx = ctypes.create_string_buffer(512)
    _nettle.nettle_aes256_set_encrypt_key(ctx, key)
    nblocks = (len(data) + 15) // 16
    ctr = b"".join((i + 1).to_bytes(16, "little") for i in range(nblocks))
    ks = ctypes.create_string_buffer(len(ctr))
    _nettle.nettle_aes256_encrypt(ctx, ctypes.c_size_t(len(ctr)), ks, ctr)
    return bytes(a ^ b for a, b in zip(data, ks.raw)) if len(data) < 4096 else \
        (int.from_bytes(data, "little") ^ int.from_bytes(ks.raw[:len(data)], "little")).to_bytes(
            len(data), "little")


def aes_zip(entries, password=PASSWORD):
    """entries: (name, raw deflate data, uncompressed size, unix mode)."""
    out, cd = b"", b""
    for name, deflated, usize, mode in entries:
        nb = name.encode()
        salt = os.urandom(16)
        dk = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, 1000, 66)
        ct = _aes_ctr_le(dk[:32], deflated)
        mac = hmac.new(dk[32:64], ct, "sha1").digest()[:10]
        body = salt + dk[64:66] + ct + mac
        aes = struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, 8)
        z64 = struct.pack("<HHQQ", 1, 16, usize, len(body))
        extra = z64 + aes
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 51, 0x0801, 99, 0, 0x21, 0,
                           0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)) + nb + extra + body
        cextra = struct.pack("<HHQQ", 1, 16, usize, len(body)) + aes
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0x033F, 51, 0x0801, 99, 0, 0x21,
                          0, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0,
                          mode << 16, off) + nb + cextra
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(cd),
                       len(out), 0)
    return out + cd + eocd


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def test_crafted_aes_zip_opens(w):
    """The hostile-archive writer makes archives kinko accepts when they are benign."""
    data = b"benign " * 1000
    (w / "ok.zip").write_bytes(aes_zip([("dir/ok.txt", deflate(data), len(data), 0o100644)]))
    assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"),
               str(w / "ok.zip")).returncode == 0
    assert (w / "o" / "dir" / "ok.txt").read_bytes() == data
    t = subprocess.run(["7z", "t", "-p" + PASSWORD, str(w / "ok.zip")], capture_output=True)
    assert t.returncode == 0


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/tmp/abs.txt",
                                  "a//b", "./x", "c:evil", "back\\slash"])
def test_zip_escaping_names_refused(w, name):
    d = deflate(b"payload")
    # A good entry first, so a partial extraction would be visible if it stayed.
    z = aes_zip([("first.txt", d, 7, 0o100644), (name, d, 7, 0o100644)])
    (w / "n.zip").write_bytes(z)
    open_fails(w, w / "n.zip", "absolute|escape|empty component|'\\\\' or ':'")
    assert not os.path.exists("/tmp/abs.txt") or name != "/tmp/abs.txt"
    assert not (w / "escape.txt").exists()


def test_zip_device_entry_refused(w):
    d = deflate(b"x")
    (w / "d.zip").write_bytes(aes_zip([("fifo", d, 1, 0o010644)]))
    open_fails(w, w / "d.zip", "device, pipe or other special")
    (w / "l.zip").write_bytes(aes_zip([("ok", d, 1, 0o100644), ("l", deflate(b"/etc"), 4,
                                                                 0o120777)]))
    open_fails(w, w / "l.zip", "symbolic link")


def test_zip_bomb_refused(w):
    """10 GiB of zeros in about 10 MB: a flushed deflate block repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()
    n = 10 * 1024
    stream = block * n + end
    assert zlib.decompressobj(-15).decompress(stream[:len(block) * 2], 4096)  # valid deflate
    (w / "bomb.zip").write_bytes(aes_zip([("zeros.bin", stream, n << 20, 0o100644)]))
    t0 = time.time()
    open_fails(w, w / "bomb.zip", "more than the limit of 1073741824 bytes", "--max-bytes", "1G")
    assert time.time() - t0 < 30
    # The default limit (16 GiB) would let it through; a 1 GiB limit stops it early.


def test_zip_too_many_entries(w):
    for i in range(3):
        (w / f"f{i}").write_text(str(i))
    pkg = seal(w, "zip", w / "f0", w / "f1", w / "f2")
    open_fails(w, pkg, "more than the limit of 2 entries", "--max-entries", "2")


def test_open_refuses_to_replace_existing_files(w):
    (w / "f").write_text("new")
    pkg = seal(w, "zip", w / "f")
    out = w / "out"
    out.mkdir()
    (out / "f").write_text("old")
    p = run("package", "open", "--password-file", str(w / "pw"), "--out", str(out), pkg)
    assert p.returncode == 1 and b"already holds" in p.stderr
    assert sorted(os.listdir(out)) == ["f"] and (out / "f").read_text() == "old"


def test_failed_open_into_new_folder_leaves_no_folder(w):
    (w / "f").write_text("x")
    pkg = seal(w, "zip", w / "f")
    p = run("package", "open", "--password-file", str(w / "wrong"), "--out", str(w / "new"), pkg)
    assert p.returncode == 1
    assert not (w / "new").exists()


def test_not_a_package(w):
    (w / "junk").write_bytes(b"hello world, not a package")
    open_fails(w, w / "junk", "neither an age package nor a zip")


# --- generated passwords and the notice -----------------------------------------


def test_generated_password_opens(w):
    (w / "f").write_bytes(b"content")
    p = run("package", "seal", "--format", "zip", "--out", str(w / "g.zip"), str(w / "f"))
    assert p.returncode == 0, p.stderr
    m = re.search(r"password: (\S+)", p.stdout.decode())
    pw = m.group(1)
    assert re.fullmatch(r"([2-9A-HJ-NP-Z]{5}-){5}[2-9A-HJ-NP-Z]{5}", pw), pw
    assert b"only once" in p.stderr
    (w / "gpw").write_text(pw + "\n")
    t = subprocess.run(["7z", "t", "-p" + pw, str(w / "g.zip")], capture_output=True)
    assert t.returncode == 0
    assert run("package", "open", "--password-file", str(w / "gpw"), "--out", str(w / "o"),
               str(w / "g.zip")).returncode == 0
    p2 = run("package", "seal", "--format", "zip", "--out", str(w / "h.zip"), str(w / "f"))
    assert re.search(r"password: (\S+)", p2.stdout.decode()).group(1) != pw


def test_seal_refuses_existing_output(w):
    (w / "f").write_text("x")
    (w / "exists.zip").write_text("keep")
    p = run("package", "seal", "--format", "zip", "--password-file", str(w / "pw"), "--out",
            str(w / "exists.zip"), str(w / "f"))
    assert p.returncode == 1 and (w / "exists.zip").read_text() == "keep"


def test_notice_text_and_html(w):
    (w / "f").write_bytes(b"data" * 1000)
    pkg = seal(w, "zip", w / "f", out=str(w / "handover.zip"))
    digest = hashlib.sha256(open(pkg, "rb").read()).hexdigest()
    size = os.path.getsize(pkg)
    p = run("package", "notice", pkg, "--issuer", "株式会社サンプル 取扱責任者",
            "--addressee", "新宿区 ○○課 御中", "--password-file", str(w / "pw"),
            "--date", "2019-05-01", check=True)
    t = p.stdout.decode()
    assert "パスワード通知書" in t and "Password notice" in t
    assert "令和元年5月1日 (2019-05-01)" in t
    pid = digest[:16].upper()
    assert "-".join(pid[i:i + 4] for i in range(0, 16, 4)) in t
    assert digest in t and "handover.zip" in t and f"{size:,}" in t
    assert PASSWORD in t and "新宿区 ○○課 御中" in t and "株式会社サンプル" in t
    assert "zip (AES-256)" in t
    h = run("package", "notice", pkg, "--format", "html", "--issuer", "<b>&co", "--date",
            "2026-11-26", check=True).stdout.decode()
    assert h.startswith("<!DOCTYPE html>") and "令和8年11月26日" in h
    assert "&lt;b&gt;&amp;co" in h and "<b>&co" not in h
    assert "手書き" not in h  # html leaves an empty cell without a password file
    t2 = run("package", "notice", pkg, "--date", "2019-04-30", check=True).stdout.decode()
    assert "平成31年4月30日" in t2 and "手書き" in t2
    assert run("package", "notice", str(w / "pw")).returncode == 1


def test_zip_adapts_to_incompressible_data(w):
    """Random stretches are stored, compressible ones deflated, in one valid stream."""
    r = os.urandom(12 << 20)
    data = b"\0" * (12 << 20) + r + r[: 9 << 20]
    (w / "mixed.bin").write_bytes(data)
    pkg = seal(w, "zip", w / "mixed.bin")
    size = os.path.getsize(pkg)
    assert (21 << 20) < size < (22 << 20), size
    t = subprocess.run(["7z", "t", "-p" + PASSWORD, pkg], capture_output=True, text=True)
    assert t.returncode == 0 and "Everything is Ok" in t.stdout
    lst = subprocess.run(["7z", "l", "-slt", "-p" + PASSWORD, pkg], capture_output=True,
                         text=True, check=True).stdout
    assert "Method = AES-256 Deflate" in lst
    assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"),
               pkg).returncode == 0
    assert (w / "o" / "mixed.bin").read_bytes() == data


def test_zip_stores_a_file_that_starts_incompressible(w):
    """A file whose first 64 KiB does not compress is stored whole (method 0, sizes in
    the local header, as 7-Zip writes it): cheaper to open, and 7-Zip reads it."""
    r = os.urandom(3 << 20)
    data = r + b"\0" * (1 << 20)
    (w / "r.bin").write_bytes(data)
    pkg = seal(w, "zip", w / "r.bin")
    assert len(data) < os.path.getsize(pkg) < len(data) + 400
    lst = subprocess.run(["7z", "l", "-slt", "-p" + PASSWORD, pkg], capture_output=True,
                         text=True, check=True).stdout
    assert "Method = AES-256 Store" in lst
    x = subprocess.run(["7z", "x", "-p" + PASSWORD, "-o" + str(w / "x"), pkg],
                       capture_output=True, text=True)
    assert x.returncode == 0 and (w / "x" / "r.bin").read_bytes() == data
    assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"),
               pkg).returncode == 0
    assert (w / "o" / "r.bin").read_bytes() == data


def run_limited(*args):
    """Runs kinko with its address space capped at 96 MiB."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (96 << 20, 96 << 20))
    p = subprocess.run([KINKO, *args], capture_output=True, preexec_fn=cap)
    assert p.returncode == 0, p.stderr
    return p


def test_constant_memory(w):
    """A 512 MiB file goes through seal and open with 96 MiB of address space."""
    ident, pub = keypair(w)
    big = w / "big.bin"
    with open(big, "wb") as f:
        f.truncate(512 << 20)
    run_limited("package", "seal", "--format", "age", "--recipient", pub, "--out",
                str(w / "b.age"), str(big))
    run_limited("package", "open", "--identity", str(ident), "--out", str(w / "o1"),
                str(w / "b.age"))
    assert (w / "o1" / "b").stat().st_size == 512 << 20
    os.unlink(w / "o1" / "b")
    os.unlink(w / "b.age")
    run_limited("package", "seal", "--format", "zip", "--password-file", str(w / "pw"),
                "--out", str(w / "b.zip"), str(big))
    run_limited("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o2"),
                str(w / "b.zip"))
    assert (w / "o2" / "big.bin").stat().st_size == 512 << 20


def test_zip_seal_folder_recursively(w):
    src = w / "案件"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    pkg = seal(w, "zip", src, w / "pw")
    lst = subprocess.run(["7z", "l", "-slt", "-p" + PASSWORD, pkg], capture_output=True,
                         text=True, check=True).stdout
    assert "Path = 案件/a.txt" in lst and "Path = 案件/sub/b.txt" in lst and "Path = pw" in lst
    assert run("package", "open", "--password-file", str(w / "pw"), "--out", str(w / "o"),
               pkg).returncode == 0
    assert (w / "o" / "案件" / "sub" / "b.txt").read_text() == "b"
    os.symlink("/etc/passwd", src / "link")
    p = run("package", "seal", "--format", "zip", "--password-file", str(w / "pw"), "--out",
            str(w / "l.zip"), str(src))
    assert p.returncode == 1 and b"symbolic link" in p.stderr and not (w / "l.zip").exists()
