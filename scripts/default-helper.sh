#!/bin/sh
# `make install-default-helper` / `make uninstall-default-helper`: makes QEMU's default helper
# path run bridgekeeper, and undoes it. Usage: default-helper.sh install|uninstall HELPER
#   install    a local dpkg-divert renames the stock /usr/lib/qemu/qemu-bridge-helper to
#              qemu-bridge-helper.distrib (qemu-system-common upgrades then update that file),
#              and a symlink to HELPER takes its name: the helper's own owner and mode (setuid or
#              file capability) apply, as for any other caller.
#   uninstall  removes that symlink and renames the stock file back: the same file, byte for
#              byte, with its owner and mode.
# A diversion made by the package bridgekeeper-default-helper is left to dpkg.
set -eu
stock=/usr/lib/qemu/qemu-bridge-helper
distrib=$stock.distrib
action=${1:-}
helper=${2:-}

die() { echo "$*" >&2; exit 1; }
[ -n "$helper" ] || die "usage: default-helper.sh install|uninstall HELPER"
[ "$(id -u)" = 0 ] || die "$action-default-helper must run as root (it changes $stock with dpkg-divert)"
owner=$(dpkg-divert --listpackage "$stock")

case $action in
install)
    if [ "$owner" = LOCAL ] && [ "$(readlink "$stock")" = "$helper" ]; then
        echo "$stock already runs $helper"
        exit 0
    fi
    [ -z "$owner" ] || die "$stock is already diverted by $owner; undo that first (dpkg-divert --list $stock)"
    [ -d /usr/lib/qemu ] || die "/usr/lib/qemu does not exist: install QEMU (apt-get install qemu-system-x86) first"
    [ -f "$helper" ] && [ -x "$helper" ] || die "no helper at $helper: run make install first (with the same PREFIX or LIBEXECDIR)"
    dpkg-divert --local --rename --divert "$distrib" --add "$stock" >/dev/null
    ln -s "$helper" "$stock"
    echo "diverted $stock to $distrib; $stock now runs $helper"
    ;;
uninstall)
    case $owner in
    "") echo "$stock is not diverted; nothing to undo"; exit 0 ;;
    LOCAL) ;;
    *) die "$stock is diverted by the package $owner; remove that package instead (apt-get remove $owner)" ;;
    esac
    if [ -L "$stock" ] && [ "$(readlink "$stock")" = "$helper" ]; then
        rm "$stock"
    elif [ -e "$stock" ] || [ -L "$stock" ]; then
        die "$stock is not the symlink to $helper that install-default-helper made; remove it yourself, then run this again"
    fi
    dpkg-divert --local --rename --divert "$distrib" --remove "$stock" >/dev/null
    echo "restored the stock $stock"
    ;;
*)
    die "usage: default-helper.sh install|uninstall HELPER"
    ;;
esac
