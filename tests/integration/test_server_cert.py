"""Renewing the server's TLS certificate: `kinko cert server` on the data directory."""
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import time

import subprocess

import pytest

from conftest import KINKO, kinko


def served_fingerprint(vault, server_hostname="localhost"):
    """SHA-256 of the certificate the running server presents, verified against the
    vault's CA for server_hostname (the connection goes to 127.0.0.1 either way)."""
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    with socket.create_connection(("127.0.0.1", vault.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(vault):
    pem = open(os.path.join(vault.dir, "tls", "server.pem")).read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def tls_files(vault):
    d = os.path.join(vault.dir, "tls")
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def events(vault, action):
    out = kinko("log", "show", "--dir", vault.dir).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["action"] == action]


def renew(vault, *args, check=True):
    return kinko("cert", "server", "--dir", vault.dir, "--key-file", vault.keyfile, *args,
                 check=check)


def test_renewal_replaces_the_pair_keeps_the_names_and_is_audited(vault, admin):
    old = served_fingerprint(vault)
    assert old == file_fingerprint(vault)
    old_key = tls_files(vault)["server.key"]
    vault.stop()
    out = renew(vault).stdout
    new = re.search(r"\(SHA-256\): ([0-9a-f]{64})", out).group(1)
    assert new != old and new == file_fingerprint(vault)
    assert "localhost, 127.0.0.1, ::1" in out
    files = tls_files(vault)
    assert sorted(files) == ["ca.key", "ca.pem", "server.key", "server.pem"]  # no leftovers
    assert files["server.key"] != old_key
    assert os.stat(os.path.join(vault.dir, "tls", "server.key")).st_mode & 0o777 == 0o600
    assert os.stat(os.path.join(vault.dir, "tls", "server.pem")).st_mode & 0o777 == 0o644
    ev = events(vault, "tls.server_certificate")
    assert len(ev) == 1 and ev[0]["targets"] == [new] and ev[0]["role"] == "system"
    # The same CA: every client certificate and the CLI's trust still work.
    vault.start()
    assert served_fingerprint(vault) == new
    assert served_fingerprint(vault, "127.0.0.1") == new
    assert vault.login().get(vault.url + "me").status_code == 200
    assert kinko("log", "verify", "--dir", vault.dir).returncode == 0


def test_renewal_with_new_names(vault):
    vault.stop()
    out = renew(vault, "--server-name", "kinko.example.jp", "--server-name", "192.0.2.7").stdout
    assert "localhost, 127.0.0.1, ::1, kinko.example.jp, 192.0.2.7" in out
    vault.start()
    fp = served_fingerprint(vault, "kinko.example.jp")
    assert fp == file_fingerprint(vault)
    with pytest.raises(ssl.SSLCertVerificationError):
        served_fingerprint(vault, "other.example.jp")
    # Renewing again without names keeps these ones.
    vault.stop()
    assert "kinko.example.jp, 192.0.2.7" in renew(vault).stdout


def test_a_running_server_keeps_its_pair_until_restarted(vault):
    old = served_fingerprint(vault)
    new = re.search(r"\(SHA-256\): ([0-9a-f]{64})", renew(vault).stdout).group(1)
    assert served_fingerprint(vault) == old
    vault.stop()
    vault.start()
    assert served_fingerprint(vault) == new


def test_refusals_change_nothing(vault, tmp_path):
    vault.stop()
    before = tls_files(vault)
    n_events = len(events(vault, "tls.server_certificate"))
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(os.urandom(32))
    r = kinko("cert", "server", "--dir", vault.dir, "--key-file", str(wrong), check=False)
    assert r.returncode == 1 and "kinko:" in r.stderr
    r = renew(vault, "--server-name", "bad name", check=False)
    assert r.returncode == 1 and "neither a DNS name nor an IP address" in r.stderr
    r = renew(vault, "--server-name", "a" * 300, check=False)
    assert r.returncode == 1
    r = kinko("cert", "server", "--dir", vault.dir, "--key-file", vault.keyfile,
              "--passphrase-file", vault.keyfile, check=False)
    assert r.returncode == 2 and "usage" in r.stderr
    r = kinko("cert", "server", "--dir", str(tmp_path / "nowhere"), "--key-file",
              vault.keyfile, check=False)
    assert r.returncode == 1
    assert tls_files(vault) == before
    assert len(events(vault, "tls.server_certificate")) == n_events


def test_a_passphrase_vault_renews_with_its_passphrase(tmp_path):
    d = str(tmp_path / "pv")
    pp = tmp_path / "pp"
    pp.write_text("a long enough passphrase\n")
    kinko("init", "--dir", d, "--passphrase-file", str(pp))
    bad = tmp_path / "bad"
    bad.write_text("not the passphrase at all\n")
    pem = open(os.path.join(d, "tls", "server.pem")).read()
    r = kinko("cert", "server", "--dir", d, "--passphrase-file", str(bad), check=False)
    assert r.returncode == 1
    assert open(os.path.join(d, "tls", "server.pem")).read() == pem
    r = kinko("cert", "server", "--dir", d, "--passphrase-file", str(pp))
    assert open(os.path.join(d, "tls", "server.pem")).read() != pem


@pytest.mark.skipif(not shutil.which("faketime"), reason="needs faketime")
def test_the_server_warns_when_its_certificate_nears_its_end(vault):
    vault.stop()
    assert "server certificate" not in open(vault.log).read()
    # The server certificate lasts two years: 20 days before its end...
    vault.prefix = ["faketime", "-f", "+710d"]
    vault.start()
    deadline = time.time() + 10
    while "WARNING: the server certificate expires" not in open(vault.log).read():
        assert time.time() < deadline, open(vault.log).read()
        time.sleep(0.1)
    assert "kinko cert server --dir %s" % vault.dir in open(vault.log).read()
    vault.stop()
    # ...and not once it is renewed (on the same clock).
    subprocess.run(["faketime", "-f", "+710d", KINKO, "cert", "server", "--dir", vault.dir,
                    "--key-file", vault.keyfile], check=True, capture_output=True, timeout=60)
    mark = os.path.getsize(vault.log)
    vault.start()
    time.sleep(1)
    with open(vault.log) as f:
        f.seek(mark)
        tail = f.read()
    assert "serving https://" in tail and "server certificate" not in tail
