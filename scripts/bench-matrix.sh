#!/bin/bash
# Benchmark of `bridgekeeper matrix`: 10,000 users against 10 bridges, in a sandbox (private
# network and mount namespaces, /etc/passwd, /etc/group and /etc/qemu of its own). Prints the
# wall-clock time of each run; not a test (nothing is asserted but that it ran).
#
# The tree is a realistic shared one: every user has a private group and is a member of two of
# 20 shared groups; 20 group includes (root:GROUP 0640, one with a deny), 50 per-user includes
# (root:USER 0640), one include readable through a POSIX ACL entry for 3 users, and a missing
# include. Users whose credentials make no difference to any file share one evaluation, so the
# cost is one forked evaluation per distinct credential class plus the name-service lookups.
#
# With PER_USER=1 every user gets a per-user include (root:USER 0640) instead of 50 of them:
# every user is then a credential class of their own and each walk checks USERS includes, so
# the cost grows with the square of USERS (the worst case for evaluating as each user).
#
# Usage (root): [PER_USER=1] scripts/bench-matrix.sh [USERS] [RUNS]   (defaults 10000 and 3)
# Binary: BK_CLI (default .build/release/bridgekeeper, from `make cli`).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=Tests/lib/sandbox.sh
source "$root/Tests/lib/sandbox.sh"
bk_enter_sandbox "$@"
users=${1:-10000}
runs=${2:-3}
if [ "${PER_USER:-0}" = 1 ]; then per_user=$users step=1; else per_user=$((users / 200)) step=173; fi
[ "$per_user" -ge 1 ] || per_user=1
cli=${BK_CLI:-$root/.build/release/bridgekeeper}
case $cli in /*) ;; *) cli=$root/$cli ;; esac
[ -x "$cli" ] || bk_die "no CLI at $cli (make cli)"
command -v setfacl >/dev/null || bk_die "setfacl missing (apt-get install acl)"

ids=$BK_SCRATCH/ids
mkdir -m 0755 "$ids"
awk -v n="$users" 'BEGIN {
    print "root:x:0:0:root:/root:/bin/sh" > "passwd"
    print "root:x:0:" > "group"
    for (i = 1; i <= n; i++) {
        printf "user%05d:x:%d:%d::/:/bin/sh\n", i, 10000 + i, 10000 + i > "passwd"
        printf "user%05d:x:%d:\n", i, 10000 + i > "group"
        a = i % 20; b = (i * 7 + 3) % 20
        members[a] = members[a] (members[a] == "" ? "" : ",") sprintf("user%05d", i)
        if (b != a) members[b] = members[b] (members[b] == "" ? "" : ",") sprintf("user%05d", i)
    }
    for (g = 0; g < 20; g++) printf "team%02d:x:%d:%s\n", g, 5000 + g, members[g] > "group"
}' </dev/null
mv passwd group "$ids/"
chmod 0644 "$ids/passwd" "$ids/group"
mount --bind "$ids/passwd" /etc/passwd
mount --bind "$ids/group" /etc/group

for i in $(seq 0 9); do bk_bridge "br$i"; done
mkdir -m 0755 /etc/qemu/groups /etc/qemu/users
{
    echo "allow br0"
    for g in $(seq -w 0 19); do echo "include /etc/qemu/groups/team$g.conf"; done
    for i in $(seq 1 "$per_user"); do printf 'include /etc/qemu/users/user%05d.conf\n' $((i * step)); done
    echo "include /etc/qemu/users/shared.conf"
    echo "include /etc/qemu/missing.conf"
} | bk_acl
for g in $(seq 0 19); do
    f=/etc/qemu/groups/team$(printf %02d "$g").conf
    printf 'allow br%d\n' $((g % 10)) >"$f"
    [ "$g" != 7 ] || echo "deny br1" >>"$f"
    chown "root:team$(printf %02d "$g")" "$f"
    chmod 0640 "$f"
done
for i in $(seq 1 "$per_user"); do
    u=$(printf 'user%05d' $((i * step)))
    printf 'allow br9\n' >"/etc/qemu/users/$u.conf"
    chown "root:$u" "/etc/qemu/users/$u.conf"
    chmod 0640 "/etc/qemu/users/$u.conf"
done
printf 'allow br8\n' | bk_acl /etc/qemu/users/shared.conf
chmod 0600 /etc/qemu/users/shared.conf
setfacl -m u:user00001:r,u:user00002:r,u:user00003:r /etc/qemu/users/shared.conf

count=$(getent passwd | wc -l)
echo "# matrix: $count users x 10 bridges, $per_user per-user includes ($(nproc) cores), $runs runs"
for run in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    "$cli" matrix --json >"$BK_SCRATCH/matrix.json" || bk_die "matrix failed"
    ms=$((($(date +%s%N) - start) / 1000000))
    decisions=$(grep -c '"user"' "$BK_SCRATCH/matrix.json")
    allowed=$(grep -c '"allowed": true' "$BK_SCRATCH/matrix.json")
    printf 'run %d: %d.%03d s (%d decisions, %d allowed)\n' "$run" $((ms / 1000)) $((ms % 1000)) "$decisions" "$allowed"
done
