"""Integration fixtures: a real kinko server on loopback with its own test CA.

Every server here is the built binary (KINKO_BIN, default build/kinko) started on a
free port in a temporary data directory; nothing is mocked.
"""
import os
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest
import requests
import urllib3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINKO = os.environ.get("KINKO_BIN", os.path.join(ROOT, "build", "kinko"))


CLAMD = {"sock": None}


@pytest.fixture(scope="session", autouse=True)
def clamd_for_vaults():
    """One private clamd for the session's vaults, with dated test signatures that
    detect the EICAR test string (no download of real signatures is possible here)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="kinko-cd-", dir="/tmp")
    db = os.path.join(d, "db")
    os.makedirs(db)
    subprocess.run([os.path.join(ROOT, "scripts", "clamav-test-db"), db], check=True,
                   timeout=60)
    out = subprocess.run([os.path.join(ROOT, "scripts", "clamd-start"), os.path.join(d, "c"), db],
                         check=True, capture_output=True, text=True, timeout=120)
    CLAMD["sock"] = out.stdout.strip()
    CLAMD["dir"] = os.path.join(d, "c")
    CLAMD["db"] = db
    yield CLAMD
    subprocess.run([os.path.join(ROOT, "scripts", "clamd-stop"), os.path.join(d, "c")],
                   timeout=60)
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kinko(*args, check=True, **kw):
    return subprocess.run([KINKO, *args], capture_output=True, text=True, check=check, **kw)


def config_check(vault):
    """What `kinko config check` prints for the vault: settings, then warnings."""
    return kinko("config", "check", "--dir", vault.dir).stdout


class Vault:
    """A data directory made by `kinko init` and the server running on it."""

    def __init__(self, base, name="v", extra_conf="", prefix=None):
        self.dir = os.path.join(base, name)
        self.keyfile = os.path.join(base, name + ".key")
        with open(self.keyfile, "wb") as f:
            f.write(os.urandom(32))
        out = kinko("init", "--dir", self.dir, "--key-file", self.keyfile).stdout
        self.admin_password = re.search(r"manager password[^:]*:\s*(\S+)", out).group(1)
        self.port = free_port()
        with open(os.path.join(self.dir, "kinko.conf"), "a") as f:
            f.write("\n[scan]\nclamd_socket = %s\n" % CLAMD["sock"])
            f.write("\n[server]\nlisten = 127.0.0.1:%d\n%s" % (self.port, extra_conf))
        self.host = "127.0.0.1"
        self.url = "https://127.0.0.1:%d/api/v1/" % self.port
        self.ca = os.path.join(self.dir, "tls", "ca.pem")
        self.admin_cert = (os.path.join(self.dir, "clients", "admin", "client.pem"),
                           os.path.join(self.dir, "clients", "admin", "client.key"))
        self.prefix = prefix or []
        self.proc = None
        self.log = os.path.join(base, name + ".log")

    def servings(self):
        """How many times the log says the server started serving."""
        try:
            with open(self.log, errors="replace") as f:
                return f.read().count("kinko: serving https://")
        except OSError:
            return 0

    def start(self, unseal=True, wait=True):
        # The log is appended to: this start's line is the one after those there.
        self.served_before = self.servings()
        args = [*self.prefix, KINKO, "serve", "--dir", self.dir]
        if unseal:
            args += ["--key-file", self.keyfile]
        self.logf = open(self.log, "ab")
        # A session of its own, so stop() reaches kinko through wrappers such as
        # faketime, which run it as a child.
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        """Until the server says it serves: the port takes connections (into its
        backlog) a little earlier, while the server gives up root and installs its
        system-call filter."""
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kinko serve exited: " + open(self.log).read())
            try:
                if self.servings() > getattr(self, "served_before", 0):
                    with socket.create_connection((self.host, self.port), timeout=1):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("kinko serve did not start")

    def stop(self, sig=signal.SIGTERM):
        # Stopped by the system-call filter before being told to stop?
        died = self.proc.poll() if self.proc else None
        assert died not in (159, -signal.SIGSYS), "kinko serve exited %s" % died
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            # Whatever is left of the group (a wrapper's child) goes too.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        # Every test doubles as a check of the system-call filter: a call it
        # does not allow stops the server with this line.
        if os.path.exists(self.log):
            with open(self.log, errors="replace") as f:
                stopped = [l for l in f if "system-call filter stopped" in l]
            assert not stopped, stopped

    def session(self, cert=None):
        s = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would silently replace our CA.
        s.trust_env = False
        s.verify = self.ca
        s.cert = cert or self.admin_cert
        return s

    def login(self, user="admin", password=None, cert=None, totp=None):
        s = self.session(cert)
        body = {"user": user, "password": password or self.admin_password}
        if totp:
            body["totp"] = totp
        r = s.post(self.url + "login", json=body)
        assert r.status_code == 200, r.text
        s.headers["Authorization"] = "Bearer " + r.json()["token"]
        s.user = r.json()["user"]
        return s

    def new_user(self, admin, role, name=None, days=30):
        """Creates an account with its own client certificate; returns a Person."""
        name = name or "%s-%s" % (role, uuid.uuid4().hex[:8])
        r = admin.post(self.url + "users", json={"name": name, "role": role})
        assert r.status_code == 201, r.text
        user = r.json()["user"]
        pw = r.json()["password"]
        r = admin.post(self.url + "users/%s/certificates" % user["id"], json={"days": days})
        assert r.status_code == 201, r.text
        d = os.path.join(os.path.dirname(self.dir), "certs-" + name)
        os.makedirs(d)
        cert = (os.path.join(d, "c.pem"), os.path.join(d, "c.key"))
        with open(cert[0], "w") as f:
            f.write(r.json()["cert_pem"])
        with open(cert[1], "w") as f:
            f.write(r.json()["key_pem"])
        os.chmod(cert[1], 0o600)
        return Person(self, name, user["id"], role, pw, cert)

    def rss_kib(self, field="VmRSS"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0


class Person:
    def __init__(self, vault, name, uid, role, password, cert):
        self.vault, self.name, self.id, self.role = vault, name, uid, role
        self.password, self.cert = password, cert

    def login(self, **kw):
        return self.vault.login(self.name, self.password, cert=self.cert, **kw)


@pytest.fixture
def vault(tmp_path):
    v = Vault(str(tmp_path)).start()
    yield v
    v.stop()


@pytest.fixture
def admin(vault):
    return vault.login()


urllib3.disable_warnings()
