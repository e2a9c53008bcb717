"""Who may connect and log in: client certificates, allowlist, passwords, lockout, TOTP."""
import base64
import hashlib
import hmac
import os
import shutil
import struct
import time

import pytest
import requests

from conftest import Vault


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0xF
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def test_refused_without_a_client_certificate(vault):
    s = vault.session()
    s.cert = None
    r = s.get(vault.url + "status")
    assert r.status_code == 403
    assert "client certificate" in r.json()["detail"]
    r = s.post(vault.url + "login", json={"user": "admin", "password": vault.admin_password})
    assert r.status_code == 403


def test_refused_with_a_certificate_from_another_ca(vault, tmp_path):
    other = Vault(str(tmp_path), name="other")  # its own CA; not started
    s = vault.session(cert=other.admin_cert)
    r = s.get(vault.url + "status")
    assert r.status_code == 403
    r = s.post(vault.url + "login", json={"user": "admin", "password": vault.admin_password})
    assert r.status_code == 403


@pytest.mark.skipif(not shutil.which("faketime"), reason="needs faketime")
def test_refused_with_an_expired_certificate(vault, admin):
    person = vault.new_user(admin, "handler", days=1)
    assert person.login().get(vault.url + "me").status_code == 200
    vault.stop()
    # Two days later on the server's clock, the one-day certificate has expired.
    vault.prefix = ["faketime", "-f", "+2d"]
    vault.start()
    s = vault.session(cert=person.cert)
    r = s.post(vault.url + "login", json={"user": person.name, "password": person.password})
    assert r.status_code == 403
    assert "expired" in r.json()["detail"]
    # The admin's certificate (one year) still works at the same moment.
    assert vault.session().get(vault.url + "status").status_code == 200


def test_refused_at_accept_from_outside_the_allowlist(tmp_path):
    v = Vault(str(tmp_path), extra_conf="allow = 192.0.2.0/24\n").start()
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            v.session().get(v.url + "status", timeout=5)
        time.sleep(0.2)
        assert "refused connection from 127.0.0.1" in open(v.log).read()
    finally:
        v.stop()


def test_wrong_password_and_lockout(vault, admin):
    p = vault.new_user(admin, "handler")
    s = vault.session(cert=p.cert)
    for i in range(4):
        r = s.post(vault.url + "login", json={"user": p.name, "password": "wrong-password-1"})
        assert r.status_code == 401, i
        assert r.json()["detail"] == "wrong user name, password or TOTP code"
    # An unknown user gets the same answer.
    r = s.post(vault.url + "login", json={"user": "nobody", "password": "wrong-password-1"})
    assert r.status_code == 401
    r = s.post(vault.url + "login", json={"user": p.name, "password": "wrong-password-1"})
    assert r.status_code == 423
    assert r.headers.get("X-Kinko-Alert") == "account-locked"
    # Locked: even the right password is refused.
    r = s.post(vault.url + "login", json={"user": p.name, "password": p.password})
    assert r.status_code == 423
    time.sleep(0.2)
    assert "ALERT" in open(vault.log).read()
    # A manager unlocks it.
    r = admin.patch(vault.url + "users/" + p.id, json={"unlock": True})
    assert r.status_code == 200 and r.json()["locked"] is False
    assert p.login().get(vault.url + "me").json()["name"] == p.name


def test_totp_required_once_enrolled_and_codes_usable_once(vault, admin):
    p = vault.new_user(admin, "handler")
    r = admin.post(vault.url + "users/%s/totp" % p.id)
    assert r.status_code == 200
    uri = r.json()["otpauth_uri"]
    secret = uri.split("secret=")[1].split("&")[0]
    s = vault.session(cert=p.cert)
    body = {"user": p.name, "password": p.password}
    assert s.post(vault.url + "login", json=body).status_code == 401  # no code
    step = int(time.time() // 30)
    assert s.post(vault.url + "login",
                  json=dict(body, totp=totp(secret, step + 5))).status_code == 401
    code = totp(secret, step)
    assert s.post(vault.url + "login", json=dict(body, totp=code)).status_code == 200
    # The same code again is a replay.
    assert s.post(vault.url + "login", json=dict(body, totp=code)).status_code == 401


def test_session_bound_to_certificate_and_ended_by_logout_and_disable(vault, admin):
    p = vault.new_user(admin, "handler")
    q = vault.new_user(admin, "handler")
    s = p.login()
    token = s.headers["Authorization"]
    # The token presented with another client certificate is refused.
    other = vault.session(cert=q.cert)
    other.headers["Authorization"] = token
    assert other.get(vault.url + "me").status_code == 401
    assert s.get(vault.url + "me").status_code == 200
    assert s.post(vault.url + "logout").status_code == 200
    assert s.get(vault.url + "me").status_code == 401
    s = p.login()
    assert admin.patch(vault.url + "users/" + p.id, json={"disabled": True}).status_code == 200
    assert s.get(vault.url + "me").status_code == 401
    r = vault.session(cert=p.cert).post(vault.url + "login",
                                        json={"user": p.name, "password": p.password})
    assert r.status_code == 401


def test_per_user_allowed_addresses(vault, admin):
    p = vault.new_user(admin, "handler")
    r = admin.patch(vault.url + "users/" + p.id, json={"allowed_cidrs": "192.0.2.0/24"})
    assert r.status_code == 200
    r = vault.session(cert=p.cert).post(vault.url + "login",
                                        json={"user": p.name, "password": p.password})
    assert r.status_code == 401
    r = admin.patch(vault.url + "users/" + p.id, json={"allowed_cidrs": "not-a-cidr"})
    assert r.status_code == 400
    r = admin.patch(vault.url + "users/" + p.id, json={"allowed_cidrs": "127.0.0.0/8"})
    assert r.status_code == 200
    assert p.login().get(vault.url + "me").status_code == 200


def test_bad_config_stops_start_up_with_file_and_line(tmp_path):
    v = Vault(str(tmp_path))
    with open(os.path.join(v.dir, "kinko.conf"), "a") as f:
        f.write("max_uploads = lots\n")
    import subprocess
    from conftest import KINKO
    p = subprocess.run([KINKO, "serve", "--dir", v.dir, "--key-file", v.keyfile],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "kinko.conf:" in p.stderr and "max_uploads" in p.stderr
    line = p.stderr.split("kinko.conf:")[1].split(":")[0]
    conf = open(os.path.join(v.dir, "kinko.conf")).read().splitlines()
    assert conf[int(line) - 1].startswith("max_uploads")


def test_config_check_warns_on_weak_settings(tmp_path):
    from conftest import kinko
    v = Vault(str(tmp_path), extra_conf="allow = 0.0.0.0/0\n")
    out = kinko("config", "check", "--dir", v.dir).stdout
    assert "warning: S1" in out
    assert "allow = 0.0.0.0/0" in out
