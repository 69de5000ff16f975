#!/bin/bash
# Build the guest Linux kernel (bzImage + modules) into a cache outside the clone.
#
#   guest/build-linux.sh               build if needed; the last line of stdout is the cache path
#   guest/build-linux.sh --print-path  print the cache path only (cheap, never builds)
#
# Cache entry: $CACHE_DIR/linux-<key>/ (CACHE_DIR defaults to ~/.cache/chariot-hv), where key is the first
# 16 hex digits of sha256 over the linux-source-6.1 package version, guest/linux.config and this script.
# It holds:
#   bzImage          the kernel
#   src/             the configured, built tree: `make -C <entry>/src M=<dir> modules` builds an out-of-tree module
#   modroot/         `make modules_install INSTALL_MOD_PATH=modroot` (lib/modules/<release>/...)
#   config           the final .config;  kernel.release   the release string;  build.log   the build's output
# The entry is built in a temporary directory and renamed into place only on success, so an interrupted build
# never leaves a half entry. A lock serialises concurrent runs for the same key.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/linux.config
source_pkg=linux-source-6.1
source_tar=/usr/src/linux-source-6.1.tar.xz

# Run standalone even when called from make: no jobserver, command-line variables or output dir from the caller.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES KBUILD_OUTPUT O ARCH CROSS_COMPILE
# Reproducible version banner: the same inputs give the same `Linux version ...` line on every machine.
export KBUILD_BUILD_TIMESTAMP="2000-01-01 00:00:00 UTC" KBUILD_BUILD_USER=chariot KBUILD_BUILD_HOST=chariot-hv

home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache_dir=${CACHE_DIR:-$home/.cache/chariot-hv}

die() { echo "build-linux: ERROR: $*" >&2; exit 1; }
say() { echo "build-linux: $*" >&2; }

source_version=$(dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null) ||
    die "Debian package $source_pkg is not installed (run 'make deps' as root)"
key=$( { printf '%s\n' "$source_pkg $source_version"; cat "$fragment" "${BASH_SOURCE[0]}"; } |
       sha256sum | cut -c1-16)
entry=$cache_dir/linux-$key

if [ "${1:-}" = --print-path ]; then
    echo "$entry"
    exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--print-path]"

# check_config FRAGMENT DOTCONFIG: every line of the fragment must hold in the final .config.
# olddefconfig silently drops options whose dependencies are missing; this makes that loud.
check_config() {
    local frag=$1 cfg=$2 bad=0 line name want got
    while IFS= read -r line; do
        case $line in
            "# CONFIG_"*" is not set") name=${line#\# }; name=${name%% *}; want=n ;;
            CONFIG_*=*) name=${line%%=*}; want=${line#*=} ;;
            *) continue ;;
        esac
        got=$(grep -E "^$name=" "$cfg" | head -n1 || true)
        got=${got#*=}
        [ -n "$got" ] || got=n
        if [ "$got" != "$want" ]; then
            echo "build-linux: CONFIG MISMATCH: $name wanted '$want', the final .config has '$got'" >&2
            bad=1
        fi
    done < "$frag"
    return $bad
}

mkdir -p "$cache_dir"
exec 9>"$cache_dir/linux-$key.lock"
if ! flock -n 9; then
    say "another build of linux-$key is running; waiting for it"
    flock 9
fi

if [ -f "$entry/bzImage" ]; then
    say "cached: $entry"
    echo "$entry"
    exit 0
fi

for tool in gcc make bc bison flex lz4 cpio perl xz tar; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (run 'make deps' as root; lz4 comes from Debian's lz4)"
done
[ -f /usr/include/libelf.h ] || die "libelf-dev is missing (run 'make deps' as root)"
[ -f /usr/include/openssl/ssl.h ] || die "libssl-dev is missing (run 'make deps' as root)"
[ -f "$source_tar" ] || die "$source_tar is missing (reinstall $source_pkg)"

# We hold the lock: leftovers of killed runs for this key are nobody's.
rm -rf "$cache_dir/linux-$key.tmp."*
tmp=$cache_dir/linux-$key.tmp.$$
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ -d "$tmp" ]; then
        [ -f "$tmp/build.log" ] && cp "$tmp/build.log" "$cache_dir/linux-$key.failed.log" &&
            say "failed; log kept in $cache_dir/linux-$key.failed.log"
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP

start=$(date +%s)
mkdir -p "$tmp"
log=$tmp/build.log
say "building linux-$key ($source_pkg $source_version) in $tmp; log: $log"

say "extracting $source_tar"
tar -xf "$source_tar" -C "$tmp"
mv "$tmp/linux-source-6.1" "$tmp/src"
src=$tmp/src

say "configuring: tinyconfig + guest/linux.config + olddefconfig"
{
    make -C "$src" tinyconfig
    (cd "$src" && scripts/kconfig/merge_config.sh -m .config "$fragment")
    make -C "$src" olddefconfig
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "configuration failed"; }
check_config "$fragment" "$src/.config" || die "the final .config does not match guest/linux.config (see above)"

jobs=$(nproc)
say "make -j$jobs bzImage modules (about 7 minutes on 2 cores)"
make -C "$src" -j"$jobs" bzImage modules >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "kernel build failed"; }
make -C "$src" modules_install INSTALL_MOD_PATH="$tmp/modroot" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "modules_install failed"; }

release=$(make -s -C "$src" kernelrelease)
# modules_install links build/ and source/ to the temporary tree's absolute path: drop them (src/ is the tree).
rm -f "$tmp/modroot/lib/modules/$release/build" "$tmp/modroot/lib/modules/$release/source"
cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$src/.config" "$tmp/config"
echo "$release" > "$tmp/kernel.release"
end=$(date +%s)
printf 'key=%s\nsource=%s %s\nrelease=%s\nbuild_seconds=%s\nbzimage_bytes=%s\n' \
    "$key" "$source_pkg" "$source_version" "$release" "$((end - start))" "$(stat -c %s "$tmp/bzImage")" \
    > "$tmp/build-info"

mv -T "$tmp" "$entry"
say "built in $((end - start)) s: $entry (bzImage $(stat -c %s "$entry/bzImage") bytes, release $release)"
echo "$entry"
