#!/bin/sh
# Makes vault-schema6.tar.gz: a data directory as kinko at schema 6 left it (before
# rows that decide access were authenticated), for test_rows.py's upgrade test.
#   git worktree add /tmp/old6 b66e67e && cmake -S /tmp/old6 -B /tmp/old6/build \
#     && cmake --build /tmp/old6/build --target kinko
#   OLD_KINKO=/tmp/old6/build/kinko sh tests/integration/data/make-vault-schema6.sh
# It holds a manager (admin), a handler (sato) designated in one contract with the
# right to read its folder, one file, and a certificate of sato's that was revoked.
set -eu
: "${OLD_KINKO:?}"
out=$(cd "$(dirname "$0")" && pwd)/vault-schema6.tar.gz
w=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$w"' EXIT
cd "$w"
head -c 32 /dev/urandom >v.key
"$OLD_KINKO" init --dir v --key-file v.key >init.txt
cp v/kinko.conf conf.orig
port=$((20000 + $$ % 20000))
printf '\n[scan]\nrequired = false\n[server]\nlisten = 127.0.0.1:%s\n' "$port" >>v/kinko.conf
"$OLD_KINKO" serve --dir v --key-file v.key 2>serve.log &
pid=$!
tls="--cacert v/tls/ca.pem --cert v/clients/admin/client.pem --key v/clients/admin/client.key"
url=https://127.0.0.1:$port/api/v1
i=0
until curl -sf $tls "$url/status" >/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat serve.log; exit 1; }; sleep 0.1
done
j() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
pw=$(sed -n 's/^  manager password[^:]*: *//p' init.txt)
tok=$(curl -sf $tls -d "{\"user\":\"admin\",\"password\":\"$pw\"}" "$url/login" | j "['token']")
a="Authorization: Bearer $tok"
curl -sf $tls -H "$a" -d '{"name":"sato","role":"handler"}' "$url/users" >user.json
sid=$(j "['user']['id']" <user.json)
spw=$(j "['password']" <user.json)
curl -sf $tls -H "$a" -d '{"days":825}' "$url/users/$sid/certificates" >cert.json
j "['cert_pem']" <cert.json >sato.pem
j "['key_pem']" <cert.json >sato.key
curl -sf $tls -H "$a" -d '{"days":825}' "$url/users/$sid/certificates" >rev.json
j "['cert_pem']" <rev.json >revoked.pem
j "['key_pem']" <rev.json >revoked.key
rfp=$(j "['fingerprint']" <rev.json)
curl -sf $tls -H "$a" -X POST "$url/certificates/$rfp/revoke" >/dev/null
cid=$(curl -sf $tls -H "$a" -d '{"name":"住民税通知"}' "$url/contracts" | j "['id']")
fid=$(curl -sf $tls -H "$a" -d '{"name":"受領"}' "$url/contracts/$cid/folders" | j "['id']")
curl -sf $tls -H "$a" -X PUT -d '{"role":"handler"}' "$url/contracts/$cid/members/$sid" >/dev/null
curl -sf $tls -H "$a" -X PUT -d '{"perms":["read"]}' "$url/folders/$fid/acl/$sid" >/dev/null
printf 'resident,0001\nresident,0002\n' >data.csv
oid=$(curl -sf $tls -H "$a" -T data.csv "$url/folders/$fid/objects?name=data.csv" | j "['id']")
kill $pid; wait $pid || true
/usr/bin/python3 - v/kinko.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA user_version").fetchone()[0] == 6
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
cp conf.orig v/kinko.conf
/usr/bin/python3 - "$sid" "$spw" "$rfp" "$cid" "$fid" "$oid" >fixture.json <<'PY'
import json, sys
k = ["sato_id", "sato_password", "revoked_fingerprint", "contract", "folder", "object"]
print(json.dumps(dict(zip(k, sys.argv[1:]))))
PY
tar -czf "$out" v v.key sato.pem sato.key revoked.pem revoked.key data.csv fixture.json
echo "wrote $out"
