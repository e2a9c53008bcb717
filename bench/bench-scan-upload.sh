#!/bin/sh
# Upload a 1 GiB CSV (with My Numbers, into a folder marked for them) with scanning
# on, against clamdscan --stream of the same file and against the upload with
# scanning off, in the same run. Target (issue 5): scanning upload >= 0.9x clamd alone.
set -eu
: "${KINKO_BIN:?}" "${BENCH_DIR:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${BENCH_SIZE_MB:-1024}
B="$BENCH_DIR/scan-upload"
rm -rf "$B"
mkdir -p "$B"
chmod 700 "$B"
port=$((21000 + $$ % 20000))

/usr/bin/python3 - "$B/data.csv" "$size_mb" <<'PY'
import random, sys
path, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
def mynumber():
    d = [rnd.randrange(10) for _ in range(11)]
    s = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(d), 1))
    r = s % 11
    return "".join(map(str, d)) + str(0 if r <= 1 else 11 - r)
rows = ["%d,山田 太郎,%s,\"東京都新宿区西新宿%d\"\r\n" % (i, mynumber(), i % 9) for i in range(20000)]
block = "".join(rows).encode()
with open(path, "wb") as f:
    f.write("id,氏名,個人番号,住所\r\n".encode())
    n = 0
    while n < mb << 20:
        f.write(block)
        n += len(block)
PY
csv="$B/data.csv"
bytes=$(stat -c %s "$csv")

mkdir -p "$B/sig"
"$root/scripts/clamav-test-db" "$B/sig" >/dev/null
head -c 32 /dev/urandom >"$B/key"
"$KINKO_BIN" init --dir "$B/v" --key-file "$B/key" >"$B/init.txt"
V="$B/v"
printf '\n[server]\nlisten = 127.0.0.1:%s\n' "$port" >>"$V/kinko.conf"
sock=$("$root/scripts/clamd-start" "$V/clamd" "$B/sig")
pw=$(sed -n 's/^  manager password[^:]*: *//p' "$B/init.txt")
tls="--cacert $V/tls/ca.pem --cert $V/clients/admin/client.pem --key $V/clients/admin/client.key"
u="https://127.0.0.1:$port/api/v1"
kpid=""
cleanup() { [ -z "$kpid" ] || kill "$kpid" 2>/dev/null || true; "$root/scripts/clamd-stop" "$V/clamd" >/dev/null 2>&1 || true; }
trap cleanup EXIT

start() {
	"$KINKO_BIN" serve --dir "$V" --key-file "$B/key" 2>>"$B/kinko.log" &
	kpid=$!
	i=0
	until curl -sf $tls "$u/status" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "bench: server did not start"; exit 1; }
		sleep 0.1
	done
}
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login() {
	token=$(curl -sf $tls -H 'Content-Type: application/json' \
		-d "{\"user\":\"admin\",\"password\":\"$pw\"}" "$u/login" | json "['token']")
}
upload() { # name -> seconds
	out=$(curl -s $tls -H "Authorization: Bearer $token" -T "$csv" -o "$B/up.json" \
		-w '%{time_total} %{http_code}' "$u/folders/$folder/objects?name=$1")
	[ "${out#* }" = 201 ] || { echo "bench: upload failed: $out"; cat "$B/up.json"; exit 1; }
	echo "${out% *}"
}

start
login
contract=$(curl -sf $tls -H "Authorization: Bearer $token" -d '{"name":"bench"}' "$u/contracts" | json "['id']")
folder=$(curl -sf $tls -H "Authorization: Bearer $token" -d '{"name":"csv"}' "$u/contracts/$contract/folders" | json "['id']")
curl -sf $tls -H "Authorization: Bearer $token" -X PATCH -d '{"specific_personal":true}' "$u/folders/$folder" >/dev/null
cat "$csv" >/dev/null
t_on1=$(upload on1); t_on2=$(upload on2)
records=$(json "['records']" <"$B/up.json")
t_c1=$( { /usr/bin/time -f %e clamdscan --no-summary --stream -c "$V/clamd/clamd.conf" "$csv" >/dev/null; } 2>&1 | tail -n 1)
t_c2=$( { /usr/bin/time -f %e clamdscan --no-summary --stream -c "$V/clamd/clamd.conf" "$csv" >/dev/null; } 2>&1 | tail -n 1)
kill "$kpid"; wait "$kpid" 2>/dev/null || true; kpid=""
printf '\n[scan]\nrequired = false\n' >>"$V/kinko.conf"
start
login
t_off1=$(upload off1); t_off2=$(upload off2)

/usr/bin/python3 - "$bytes" "$records" "$t_on1" "$t_on2" "$t_c1" "$t_c2" "$t_off1" "$t_off2" <<'PY'
import sys
b = float(sys.argv[1]); rec = sys.argv[2]
on, cl, off = min(map(float, sys.argv[3:5])), min(map(float, sys.argv[5:7])), min(map(float, sys.argv[7:9]))
mb = lambda t: b / t / 1e6
print("upload of a %.0f MiB CSV (%s records counted), best of two runs" % (b / 2**20, rec))
print("  kinko upload, scanning on:  %6.2f s  %7.1f MB/s" % (on, mb(on)))
print("  clamdscan --stream alone:   %6.2f s  %7.1f MB/s" % (cl, mb(cl)))
print("  kinko upload, scanning off: %6.2f s  %7.1f MB/s" % (off, mb(off)))
print("  ratio scanning upload / clamd alone: %.2f  (target >= 0.90)" % (cl / on))
PY
