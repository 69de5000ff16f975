#!/bin/sh
# The hvmem workload (workload=hvmem): try to reach the hypervisor's memory from user space (/dev/mem) and from the
# kernel (/lib/testmods/hvmem_probe.ko: ioremap, crafted PTEs, the direct map), and check that nothing of it shows.
#
# Ranges: `hvmem_ranges=START-END[,START-END...]` (END exclusive) on the kernel command line, or by default
# (`hvmem_ranges=auto`) every e820 "Reserved" range of /proc/iomem, clipped to [1 MiB, 0xfec00000) (below are the
# BIOS areas, which the kernel merges with the hypervisor image's range; above, the MMIO hole): under chariot-hv
# exactly its image and its page pool. `hvmem_args=A=x,B=y` adds module parameters (write=0, table=0, max_pages=N).
# Output: `HVMEM: ranges=...`, one `HVMEM: method=<m> bytes=<n> marker_found=<0|1> nonzero=<n> ...` a method
# (devmem and devmem_self from here, the others printed by the module), then
# `W: WORKLOAD-END result=PASS|FAIL fails=N ...`: PASS when no method found a marker in hypervisor memory, both
# controls (self, devmem_self: the same searches on guest RAM holding a marker) found theirs, and the kernel did
# not oops.

MODULE=/lib/testmods/hvmem_probe.ko
DEVMEM_MAX_PAGES=256 # per range: the first pages (where the hypervisor's allocator starts) and the last one

fails=0
fail() { fails=$((fails + 1)); echo "W: FAIL $*"; }

# has_marker FILE: does FILE hold a string that is certainly in the hypervisor image (as hvmem_probe.c searches)?
# busybox grep matches C strings: a NUL earlier on a "line" would hide a marker, so NULs become line ends first
# (squeezed: a blank page is one line, not 4096).
has_marker() {
    tr -s '\000' '\n' <"$1" | grep -qF -e 'lvl=%s ev=%s' -e 'hv.start' -e 'mmu.hv_memory_denied' -e 'pmem.pool'
}
nonzero_bytes() { tr -d '\000' <"$1" | wc -c; }
file_bytes() { stat -c %s "$1"; }

echo "W: workload hvmem start"
# Module messages are printk warnings: level 5 shows them (and oopses) but keeps info messages off the console.
echo 5 >/proc/sys/kernel/printk

ranges=auto
module_args=
for arg in $(cat /proc/cmdline); do
    case $arg in
        hvmem_ranges=*) ranges=${arg#hvmem_ranges=} ;;
        hvmem_args=*) module_args=$(echo "${arg#hvmem_args=}" | tr ',' ' ') ;;
    esac
done
methods=self
for method in ioremap pte_read directmap ptable pte_write; do
    case " $module_args " in
        *" table=0 "*) [ "$method" = ptable ] && continue ;;
    esac
    case " $module_args " in
        *" write=0 "*) [ "$method" = pte_write ] && continue ;;
    esac
    methods="$methods $method"
done
source=cmdline
if [ "$ranges" = auto ]; then
    source=iomem
    ranges=
    # top-level lines only: "00100000-00128fff : Reserved"
    while IFS= read -r line; do
        case $line in
            " "*) continue ;;
            *" : Reserved") ;;
            *) continue ;;
        esac
        span=${line%% *}
        start=$((0x${span%-*}))
        end=$((0x${span#*-} + 1))
        [ $start -ge $((0x100000)) ] || start=$((0x100000))
        [ $end -le $((0xfec00000)) ] || end=$((0xfec00000))
        [ $start -lt $end ] || continue
        ranges="$ranges${ranges:+,}$(printf '0x%x-0x%x' $start $end)"
    done </proc/iomem
fi
echo "HVMEM: ranges=${ranges:-none} source=$source args=\"$module_args\""
[ -n "$ranges" ] || fail "no hypervisor ranges (not under chariot-hv, or its memory is not e820-reserved)"

# --- user space: /dev/mem ---
bytes=0 nonzero=0 marker=0 pages=0
for r in $(echo "$ranges" | tr ',' ' '); do
    start=$((${r%-*})) end=$((${r#*-}))
    first=$((start / 4096)) n=$(((end - start) / 4096))
    part=0
    # dense from the start, then the last page
    for span in "$first $((n < DEVMEM_MAX_PAGES ? n : DEVMEM_MAX_PAGES))" \
                "$((first + n - 1)) $((n > DEVMEM_MAX_PAGES ? 1 : 0))"; do
        # shellcheck disable=SC2086 # "PAGE COUNT": two words
        set -- $span
        [ "$2" -gt 0 ] || continue
        out=/tmp/devmem.$first.$part
        part=$((part + 1))
        if ! dd if=/dev/mem of="$out" bs=4096 skip="$1" count="$2" 2>/tmp/dd.err; then
            echo "HVMEM: devmem page=0x$(printf %x $(($1 * 4096))) count=$2 error=\"$(tail -n1 /tmp/dd.err)\""
        fi
        [ -f "$out" ] || continue
        got=$(file_bytes "$out")
        bytes=$((bytes + got)) pages=$((pages + got / 4096))
        nonzero=$((nonzero + $(nonzero_bytes "$out")))
        has_marker "$out" && marker=1
        rm -f "$out"
    done
done
echo "HVMEM: method=devmem bytes=$bytes marker_found=$marker nonzero=$nonzero pages=$pages"
[ $marker -eq 0 ] || fail "devmem: found the hypervisor's marker"

# --- kernel: the probe module ---
dmesg -c >/dev/null
if [ -n "$ranges" ]; then
    # shellcheck disable=SC2086 # module_args: one word a parameter
    if out=$(insmod "$MODULE" ranges="$ranges" $module_args 2>&1); then
        echo "W: module hvmem_probe loaded"
    else
        fail "insmod hvmem_probe: $out"
    fi
fi
dmesg >/tmp/probe.log
grep -q 'HVMEM: done' /tmp/probe.log || fail "hvmem_probe did not finish"
for method in $methods; do
    line=$(grep -o "HVMEM: method=$method .*" /tmp/probe.log | head -n1)
    case $line in
        "") fail "hvmem_probe printed no $method line" ;;
        *" marker_found=0 "*) [ "$method" != self ] || fail "self: the control did not find its own marker" ;;
        *" marker_found=1 "*) [ "$method" = self ] || fail "$method: found the hypervisor's marker" ;;
        *) fail "$method: ${line#HVMEM: }" ;;
    esac
done

# --- control from user space: /dev/mem at the module's own marker (guest RAM) ---
phys=$(sed -n 's/.*HVMEM: method=self .* phys=\(0x[0-9a-f]*\).*/\1/p' /tmp/probe.log | head -n1)
if [ -n "$phys" ]; then
    dd if=/dev/mem of=/tmp/devmem.self bs=4096 skip=$((phys / 4096)) count=1 2>/tmp/dd.err ||
        fail "devmem_self: $(tail -n1 /tmp/dd.err)"
    touch /tmp/devmem.self
    marker=0
    has_marker /tmp/devmem.self && marker=1
    echo "HVMEM: method=devmem_self bytes=$(file_bytes /tmp/devmem.self) marker_found=$marker" \
         "nonzero=$(nonzero_bytes /tmp/devmem.self) pages=1 phys=$phys"
    [ $marker -eq 1 ] || fail "devmem_self: the control did not find the module's marker"
else
    fail "devmem_self: no phys= in the self line"
fi

# --- still alive: no oops, and processes still run ---
if grep -qE 'Oops|BUG:|general protection|Kernel panic' /tmp/probe.log; then
    fail "the kernel oopsed during the probe"
fi
/bin/tsc >/dev/null || fail "fork+exec failed after the probe"

result=PASS
[ $fails -eq 0 ] || result=FAIL
echo "W: WORKLOAD-END result=$result fails=$fails"
[ $fails -eq 0 ]
