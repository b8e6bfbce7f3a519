#!/bin/bash
# Differential: Tests/Corpus/stock-decisions.txt (the corpus the unit tests also read; its header
# documents the format) run through the stock /usr/lib/qemu/qemu-bridge-helper and through ours,
# both installed setuid root and run by nobody with /dev/net/tun 0666 (stock opens it after
# dropping privileges). The outcome compared is: attached (bridge, vnet_hdr, MTU, up) or
# refused. Ordinary requests must give identical outcomes; the contract's intentional
# divergences (contract.md §3, §5; README) are marked in the corpus, which says what stock does
# instead, and that is asserted too. Every run also asserts the exact stderr, nothing on stdout,
# no TAP left afterwards. A table of all requests is printed at the end.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_require_exe stock-helper "$BK_STOCK" || it_abort
CORPUS=$IT_ROOT/Tests/Corpus/stock-decisions.txt
it_precondition corpus test -r "$CORPUS" || it_abort

OURS=$(bk_install "$BK_HELPER" ours setuid)
STOCK=$(bk_install "$BK_STOCK" stock setuid)
STOCK_DENIED="access denied by acl file"

# A caller-owned working directory (for `cwdfile`: the relative include).
CWD=$BK_SCRATCH/cwd
mkdir -m 0755 "$CWD"
chown 65534:65534 "$CWD"

# unescape TEXT: the corpus escapes (printf %b, plus \*N:C = N copies of C) as bytes on stdout.
unescape() {
    local t=$1 rep
    while [[ $t =~ \\\*([0-9]+):(.) ]]; do
        rep=$(printf "%${BASH_REMATCH[1]}s" '' | tr ' ' "${BASH_REMATCH[2]}")
        t=${t/"${BASH_REMATCH[0]}"/$rep}
    done
    printf '%b' "$t"
}

# outcome: the compared outcome of the last run (it_run of `bridgekeeper try`).
outcome() {
    case "$(it_field result)|$(it_field helper_exit)" in
        attached\|0) printf 'attached bridge=%s vnet_hdr=%s mtu=%s up=%s' "$(it_field bridge)" "$(it_field vnet_hdr)" "$(it_field mtu)" "$(it_field up)" ;;
        refused\|1) printf refused ;;
        *\|1[3-9][0-9]) printf 'crashed helper_exit=%s' "$(it_field helper_exit)" ;;
        *) printf 'unexpected result=%s helper_exit=%s rc=%s' "$(it_field result)" "$(it_field helper_exit)" "$IT_RC" ;;
    esac
}

# run_one HELPER REQUEST WANT-OUTCOME WANT-STDERR: one run and its assertions (no report).
# WANT-STDERR: the exact bytes without the final newline ("" = nothing), or "re:ERE".
run_one() {
    local helper=$1 request=$2 want=$3 want_err=$4 args
    bk_tun_mode 0666
    case $request in
        "-- "*) read -r -a args <<<"${request#-- }"; args=(-- "${args[@]}") ;;
        "novnet "*) args=(--br "${request#novnet }" --no-vnet) ;;
        "tun0600 "*) bk_tun_mode 0600; args=(--br "${request#tun0600 }") ;;
        *) args=(--br "$request") ;;
    esac
    pushd "$CASE_DIR" >/dev/null || return
    it_run "${NOBODY[@]}" "$CLI" try --helper "$helper" "${args[@]}"
    popd >/dev/null || return
    LAST_OUTCOME=$(outcome)
    it_expect outcome "$want" "$LAST_OUTCOME"
    if [[ $want_err == re:* ]]; then
        it_expect_match stderr "${want_err#re:}"$'\n' "$IT_ERR"
    else
        [ -z "$want_err" ] || want_err+=$'\n'
        it_expect stderr "$want_err" "$IT_ERR"
    fi
    it_expect helper_stdout_bytes 0 "$(it_field helper_stdout_bytes)"
    case $want in
        attached*) it_expect "client exit status" 0 "$IT_RC" ;;
        *) it_expect "client exit status" 1 "$IT_RC" ;;
    esac
    it_expect_no_taps
}

# ---------------------------------------------------------------------------------------------
# Reading the corpus

# The world: bridges and veths (global lines), created before any case.
while read -r kw a b c; do
    case $kw in
        bridge)
            ip link add name "$a" type bridge || it_fail "t-differential/precondition/bridge-$a" "expected 'ip link add name $a type bridge' to succeed, got failure"
            [ -z "$b" ] || [ "$b" = - ] || ip link set "$a" mtu "$b"
            [ "$c" = down ] || ip link set "$a" up ;;
        veth) ip link add "$a" type veth peer name "$b" && ip link set "$a" up ;;
    esac
done <"$CORPUS"
[ "$IT_FAILED" = 0 ] || it_abort

# attached_or_missing BRIDGE VNET WHO: the outcome and stderr of an ACL-allowed request (WHO:
# ours or stock): attached with the bridge's MTU if it exists, else the missing-bridge refusal.
attached_or_missing() {
    if [ -d "/sys/class/net/$1/bridge" ]; then
        WANT="attached bridge=$1 vnet_hdr=$2 mtu=$(cat "/sys/class/net/$1/mtu") up=1" WANT_ERR=""
    elif [ "$3" = ours ]; then
        WANT=refused WANT_ERR=$(msg_missing_bridge "$1")
    else
        WANT=refused WANT_ERR="failed to get mtu of bridge \`$1': No such device"
    fi
}

# ask LINE-NUMBER REST-OF-LINE: one request of the current case, through both helpers.
TABLE=()
ask() {
    local number=$1 rest=$2 fields=() request bridge vnet=1 word
    while [[ $rest == *" | "* ]]; do fields+=("${rest%% | *}"); rest=${rest#* | }; done
    fields+=("$rest")
    request=${fields[0]}
    local ours=${fields[1]:-} stock=${fields[2]:-} diverges=${fields[3]:-}
    case $request in
        "-- "*)
            bridge=""
            vnet=0
            for word in ${request#-- }; do
                case $word in --br=*) bridge=${word#--br=} ;; --use-vnet) vnet=1 ;; esac
            done ;;
        "novnet "*) bridge=${request#novnet }; vnet=0 ;;
        "tun0600 "*) bridge=${request#tun0600 } ;;
        *) bridge=$request ;;
    esac
    local want_ours want_ours_err want_stock="" want_stock_err=""
    case $ours in
        allowed)
            attached_or_missing "$bridge" "$vnet" ours; want_ours=$WANT want_ours_err=$WANT_ERR
            attached_or_missing "$bridge" "$vnet" stock; want_stock=$WANT want_stock_err=$WANT_ERR ;;
        not-allowed)
            want_ours=refused want_ours_err=$(msg_not_allowed "$bridge")
            want_stock=refused want_stock_err=$STOCK_DENIED ;;
        "denied "*)
            local where=${ours#denied } rule
            rule=${where#* }
            where=${where%% *}
            want_ours=refused want_ours_err=$(msg_denied "$where" "$rule" "$bridge")
            want_stock=refused want_stock_err=$STOCK_DENIED ;;
        "refused "*) want_ours=refused want_ours_err=$(unescape "${ours#refused }") ;;
        "refused-re "*) want_ours=refused want_ours_err="re:${ours#refused-re }" ;;
        *) it_fail "t-differential/corpus/line-$number" "expected OURS allowed, not-allowed, denied or refused, got '$ours'"; return ;;
    esac
    case $stock in
        "") [ -n "$want_stock" ] || { it_fail "t-differential/corpus/line-$number" "expected a STOCK field after a refusal, got none"; return; } ;;
        attached*)
            attached_or_missing "$bridge" "$vnet" stock; want_stock=$WANT
            want_stock_err=$(unescape "${stock#attached}")
            want_stock_err=${want_stock_err# } ;;
        "refused "*) want_stock=refused want_stock_err=$(unescape "${stock#refused }") ;;
        "crashed "*) want_stock="crashed helper_exit=${stock#crashed }" want_stock_err="" ;;
        *) it_fail "t-differential/corpus/line-$number" "expected STOCK attached, refused or crashed, got '$stock'"; return ;;
    esac
    local kind=same
    [ -z "$diverges" ] || kind=diverges
    local shown=${request// /_}
    shown=${shown//\//%2f}
    local name="t-differential/$CASE/$shown"

    it_begin
    run_one "$OURS" "$request" "$want_ours" "$want_ours_err"
    local got_ours=$LAST_OUTCOME
    it_end "$name/ours"
    it_begin
    run_one "$STOCK" "$request" "$want_stock" "$want_stock_err"
    local got_stock=$LAST_OUTCOME
    it_end "$name/stock"
    it_begin
    if [ "$kind" = same ]; then
        it_expect "stock's outcome = ours" "$got_ours" "$got_stock"
    else
        # A divergence: the outcome differs, or (not-a-bridge rows) both refuse for different
        # reasons; either way the two checks above pinned both sides exactly.
        [ "$got_ours" != "$got_stock" ] || [ "$want_ours_err" != "$want_stock_err" ] ||
            it_problem "expected a divergence (${diverges#diverges: }), got the same outcome and stderr"
    fi
    it_end "$name/$kind"
    TABLE+=("$CASE $shown|$kind|$got_stock|$got_ours")
}

# The cases, in file order: a `case` line resets /etc/qemu and the caller's directory; its
# setup lines come before its requests.
CASE="" CASE_DIR=/ ASKED=0 number=0
while IFS= read -r line; do
    number=$((number + 1))
    [ -n "$line" ] && [[ $line != "#"* ]] || continue
    kw=${line%% *}
    rest=""
    [[ $line != *" "* ]] || rest=${line#* }
    case $kw in
        bridge | veth) continue ;;
        case) CASE=$rest CASE_DIR=/ ASKED=0; it_reset_etc_qemu; rm -rf "${CWD:?}"/*; continue ;;
        ask) ask "$number" "$rest"; ASKED=1; continue ;;
    esac
    path=${rest%% *}
    text=""
    [[ $rest != *" "* ]] || text=${rest#* }
    if [ -z "$CASE" ] || [ "$ASKED" = 1 ]; then
        it_fail "t-differential/corpus/line-$number" "expected '$kw' inside a case before its requests, got it $([ -z "$CASE" ] && echo before any case || echo after a request)"
        continue
    fi
    case $kw in
        file) unescape "$text" | bk_acl "$path" ;;
        unreadable) chmod 0600 "$path" ;;
        group) chgrp "$text" "$path" && chmod 0640 "$path" ;;
        owner) chown "$text:$text" "$path" ;;
        cwdfile) unescape "$text" >"$CWD/$path"; chown 65534:65534 "$CWD/$path"; CASE_DIR=$CWD ;;
        *) it_fail "t-differential/corpus/line-$number" "expected a known directive, got '$kw'" ;;
    esac
done <"$CORPUS"

printf '# %-58s %-8s %-52s %s\n' request kind stock ours
for line in "${TABLE[@]}"; do
    IFS='|' read -r name kind s o <<<"$line"
    printf '# %-58s %-8s %-52s %s\n' "$name" "$kind" "$s" "$o"
done

it_summary
