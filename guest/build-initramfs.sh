#!/bin/bash
# Build the guest initramfs: busybox-static userland, the driver modules, /init, the workloads and the helpers
# hw-poweroff (guest/poweroff.c), tsc, pattern and playback.
#
#   guest/build-initramfs.sh OUT.cpio.gz [EXTRA_DIR]
#
# The kernel (for its modules) is the cache entry of guest/build-linux.sh, which must have been built
# (LINUX_DIR=<entry> overrides it). Every file under EXTRA_DIR is copied into the initramfs at the same relative
# path (e.g. EXTRA_DIR/init.d/50-agent.sh and EXTRA_DIR/lib/agent.ko: /init runs /init.d/*.sh before the workload).
# The output is reproducible: fixed owners and timestamps, sorted entries, gzip -n.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "build-initramfs: ERROR: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 OUT.cpio.gz [EXTRA_DIR]"
out=$1
extra=${2:-}
[ -z "$extra" ] || [ -d "$extra" ] || die "extra directory '$extra' does not exist"

linux_dir=${LINUX_DIR:-$("$here/build-linux.sh" --print-path)}
[ -f "$linux_dir/kernel.release" ] ||
    die "no built kernel in $linux_dir: run guest/build-linux.sh (or 'make guest-kernel') first"
release=$(cat "$linux_dir/kernel.release")
moddir=$linux_dir/modroot/lib/modules/$release
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep is missing"
busybox=/bin/busybox
[ -x "$busybox" ] && "$busybox" --list-full >/dev/null 2>&1 || die "busybox-static is missing (run 'make deps')"
file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' && die "$busybox is dynamically linked: install busybox-static"

stage=$(mktemp -d "${TMPDIR:-/tmp}/chariot-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lib/modules,workloads,init.d}

# busybox and its applet links (absolute targets, as `busybox --install` would make them)
cp "$busybox" "$stage/bin/busybox"
"$busybox" --list-full | while read -r applet; do
    [ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

# the freestanding helpers (no libc: a few KiB each, cheap to exec hundreds of times)
helper_cflags=(-static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie -fno-asynchronous-unwind-tables
               -O2 -s -Wall -Wextra -Werror -Wl,--build-id=none)
gcc "${helper_cflags[@]}" -o "$stage/sbin/hw-poweroff" "$here/poweroff.c"
gcc "${helper_cflags[@]}" -o "$stage/bin/tsc" "$here/tsc.c"
gcc "${helper_cflags[@]}" -o "$stage/bin/pattern" "$here/pattern.c"
gcc "${helper_cflags[@]}" -o "$stage/bin/playback" "$here/playback.c"

# the kernel's modules: everything modular in guest/linux.config is a driver under test or one of its
# dependencies (e1000, ne2k-pci + 8390, snd-ens1370 + sound core, ata_piix, uhci-hcd, usb-storage, sd_mod),
# so take the whole tree with its modules.dep and let busybox modprobe resolve the order.
mkdir -p "$stage/lib/modules/$release"
(cd "$moddir" && find . -name build -prune -o -name source -prune -o -print | cpio -pdm --quiet "$stage/lib/modules/$release")
for mod in e1000 ne2k-pci 8390 snd-ens1370 ata_piix uhci-hcd usb-storage sd_mod; do
    grep -qE "(^|/)${mod//[-_]/[-_]}\.ko:" "$moddir/modules.dep" || die "module $mod is not in $moddir/modules.dep"
done

install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here"/workloads/*.sh "$stage/workloads/"
install -m 0644 "$here/workload-lib.sh" "$stage/lib/workload-lib.sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"

if [ -n "$extra" ]; then
    cp -a "$extra"/. "$stage/"
fi

mkdir -p "$(dirname "$out")"
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out ($(stat -c %s "$out") bytes, kernel $release${extra:+, extra $extra})" >&2
