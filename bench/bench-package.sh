#!/bin/sh
# bench-package: seal and open a 1 GiB file as age and as AES-256 zip with kinko,
# against age and 7z on the same file in the same run. Prints MB/s (10^6 bytes
# per second of wall time, best of $RUNS; "cpu": per second of user + system time)
# and kinko's speed relative to the peer.
# Env: KINKO_BIN, BENCH_DIR (scratch; bench/run sets both), SIZE_MB (default 1024),
# RUNS (default 3). See docs/performance-package.md.
set -eu
KINKO_BIN=${KINKO_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/kinko}
case $KINKO_BIN in /*) ;; *) KINKO_BIN=$(pwd)/$KINKO_BIN ;; esac
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/kinko-bench.XXXXXX)}
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}
for t in age age-keygen 7z python3; do
	command -v $t >/dev/null || { echo "bench-package: $t is missing (scripts/install-deps)"; exit 1; }
done
d="$BENCH_DIR/package"
rm -rf "$d"
mkdir -p "$d"
cd "$d"
bytes=$((SIZE_MB * 1048576))

echo "bench-package: making a ${SIZE_MB} MiB random file and a ${SIZE_MB} MiB text file"
head -c "$bytes" /dev/urandom >random.bin
# Text that compresses like a CSV export (about 3:1 with deflate): 16 MiB of
# generated rows, repeated (deflate's 32 KiB window never sees the repetition).
python3 - <<'PY'
import random
r = random.Random(1)
names = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村"]
wards = ["新宿区", "渋谷区", "中野区", "杉並区"]
out, size = [], 0
while size < 16 << 20:
    row = (f"{r.randrange(10**9):09d},{r.choice(names)} {r.choice(names)},"
           f"{r.choice(wards)}{r.randrange(1, 9)}-{r.randrange(1, 30)},"
           f"{r.randrange(1940, 2024)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}\n")
    b = row.encode()
    out.append(b)
    size += len(b)
open("block.csv", "wb").write(b"".join(out)[: 16 << 20])
PY
: >text.csv
while [ "$(stat -c %s text.csv)" -lt "$bytes" ]; do cat block.csv >>text.csv; done
truncate -s "$bytes" text.csv
rm -f block.csv
printf 'bench password for kinko\n' >pw
pw=$(cat pw)
age-keygen -o id.txt 2>/dev/null
recip=$(age-keygen -y id.txt)

# run CMD...: prints "WALL CPU" in seconds (CPU = user + system of the command and
# its children), so figures can be read on a busy machine too.
run() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys, time
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"{wall:.3f} {cpu:.3f}")
sys.exit(p.returncode)
PY
}
# best CLEAN CMD...: the best wall time of $RUNS runs and the CPU time of that run
# (CLEAN runs before each try).
best() {
	clean=$1; shift
	b=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		sh -c "$clean"
		r=$(run "$@") || { echo "bench-package: FAILED: $*" >&2; exit 1; }
		if [ -z "$b" ] || awk -v t="${r% *}" -v b="${b% *}" 'BEGIN { exit !(t < b) }'; then
			b=$r
		fi
		i=$((i + 1))
	done
	echo "$b"
}
mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / 1000000 / t }'; }
ratio() { awk -v p="$1" -v k="$2" 'BEGIN { printf "%.2f", p / k }'; }
line() { # label bytes "kinko_wall kinko_cpu" peer_label "peer_wall peer_cpu"
	kw=${3% *}; kc=${3#* }
	if [ -n "$5" ]; then
		pw_=${5% *}; pc=${5#* }
		printf '%-36s kinko %5s MB/s (cpu %5s)  %-3s %5s MB/s (cpu %5s)  kinko/peer %5sx (cpu %5sx)\n' \
			"$1" "$(mbs "$2" "$kw")" "$(mbs "$2" "$kc")" "$4" "$(mbs "$2" "$pw_")" \
			"$(mbs "$2" "$pc")" "$(ratio "$pw_" "$kw")" "$(ratio "$pc" "$kc")"
	else
		printf '%-36s kinko %5s MB/s (cpu %5s)\n' "$1" "$(mbs "$2" "$kw")" "$(mbs "$2" "$kc")"
	fi
}

K="$KINKO_BIN"
for f in random.bin text.csv; do
	sz=$(stat -c %s $f)
	# age, X25519 recipient
	tk=$(best "rm -f k.age" "$K" package seal --format age --recipient "$recip" --out k.age $f)
	ta=$(best "rm -f a.age" age -e -r "$recip" -o a.age $f)
	line "age seal X25519 ($f)" "$sz" "$tk" age "$ta"
	tk=$(best "rm -rf ok" "$K" package open --identity id.txt --out ok --name x k.age)
	ta=$(best "rm -f ad" age -d -i id.txt -o ad a.age)
	line "age open X25519 ($f)" "$sz" "$tk" age "$ta"
	cmp -s ok/x $f || { echo "bench-package: kinko age output differs"; exit 1; }
	# age, passphrase (scrypt 2^18; age's own -p needs a terminal, so no peer)
	tk=$(best "rm -f p.age" "$K" package seal --format age --password-file pw --out p.age $f)
	line "age seal passphrase ($f)" "$sz" "$tk" "" ""
	tk=$(best "rm -rf op" "$K" package open --password-file pw --out op --name x p.age)
	line "age open passphrase ($f)" "$sz" "$tk" "" ""
	# zip, AES-256
	tk=$(best "rm -f k.zip" "$K" package seal --format zip --password-file pw --out k.zip $f)
	# 7-Zip's deflate is slow enough that one run of each is plenty.
	runs=$RUNS
	RUNS=1
	t7=$(best "rm -f s.zip" 7z a -tzip -mem=AES256 -p"$pw" s.zip $f)
	t71=$(best "rm -f s1.zip" 7z a -tzip -mx=1 -mem=AES256 -p"$pw" s1.zip $f)
	RUNS=$runs
	line "zip seal ($f) vs 7z default" "$sz" "$tk" 7z "$t7"
	line "zip seal ($f) vs 7z -mx=1" "$sz" "$tk" 7z "$t71"
	tk=$(best "rm -rf oz" "$K" package open --password-file pw --out oz k.zip)
	t7=$(best "rm -rf o7" 7z x -p"$pw" -oo7 s.zip)
	line "zip open ($f)" "$sz" "$tk" 7z "$t7"
	cmp -s oz/$f $f || { echo "bench-package: kinko zip output differs"; exit 1; }
	printf '%-34s kinko %s bytes, 7z %s bytes, 7z -mx=1 %s bytes\n' "zip size ($f)" \
		"$(stat -c %s k.zip)" "$(stat -c %s s.zip)" "$(stat -c %s s1.zip)"
	rm -rf k.age a.age p.age ok ad op k.zip s.zip s1.zip oz o7
done
rm -rf "$d"
