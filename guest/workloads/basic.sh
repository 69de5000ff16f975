#!/bin/sh
# The basic guest workload: load the drivers under test and exercise each device once.
#   e1000 (network: static 192.168.10.2/24, ping the Bochs vnet host 192.168.10.1),
#   snd-ens1370 (play 64 KiB of a seeded pattern: /bin/playback), ata_piix + sd_mod (ATA disk),
#   uhci-hcd + usb-storage + sd_mod (USB disk):
#   write a seeded 256 KiB pattern to each disk, drop the caches, read it back from the device and compare;
#   then fork+exec 300 short processes.
# Output: `W: ` lines are deterministic (compare two runs with grep '^W: '), `T: ` lines carry timings
# (uptime in seconds, tsc = guest TSC, which counts emulated instructions under Bochs).
# Ends with `W: WORKLOAD-END result=PASS|FAIL ...`; /init powers off afterwards.

. /lib/workload-lib.sh
PATTERN_BYTES=262144
PROCS=300
HOST_IP=192.168.10.1
GUEST_IP=192.168.10.2

fails=0
fail() { fails=$((fails + 1)); echo "W: FAIL $*"; }

# phase NAME starts timing a phase; phase_end prints its T: line
phase() {
    phase_name=$1
    read -r phase_up _ </proc/uptime
    phase_tsc=$(/bin/tsc)
}
phase_end() {
    read -r up _ </proc/uptime
    tsc=$(/bin/tsc)
    echo "T: phase=$phase_name uptime=$up secs=$(awk "BEGIN{printf \"%.2f\", $up - $phase_up}") tsc_delta=$((tsc - phase_tsc))"
}

# bound_devices BUS DRIVER: the devices bound to DRIVER, space-separated (empty if none)
bound_devices() {
    ls "/sys/bus/$1/drivers/$2" 2>/dev/null | grep -E '^[0-9]' | tr '\n' ' ' | sed 's/ $//'
}
has_bound() { [ -n "$(bound_devices "$1" "$2")" ]; }

drivers_ok=0
# check_bound BUS DRIVER: report what DRIVER is bound to (PCI devices with their vendor:device ids)
check_bound() {
    devs=$(bound_devices "$1" "$2")
    if [ -z "$devs" ]; then
        fail "driver $2 bound to nothing"
        return 1
    fi
    desc=
    for d in $devs; do
        if [ "$1" = pci ]; then
            desc="$desc $d($(sed 's/^0x//' "/sys/bus/pci/devices/$d/vendor"):$(sed 's/^0x//' "/sys/bus/pci/devices/$d/device"))"
        else
            desc="$desc $d"
        fi
    done
    echo "W: driver $2 bound:$desc"
    drivers_ok=$((drivers_ok + 1))
}

load() {
    if out=$(modprobe "$@" 2>&1); then
        echo "W: module $1 loaded"
    else
        fail "module $1 did not load: $out"
    fi
}

read -r start_up _ </proc/uptime
start_tsc=$(/bin/tsc)
echo "W: workload basic start"
# Kernel info/notice messages (link up, new USB device, attached disk) arrive asynchronously and could split a
# W: line on the console: show only warnings and worse (oopses still raise the level themselves). dmesg has the rest.
echo 5 >/proc/sys/kernel/printk

# --- drivers ---
phase modules
load e1000
check_bound pci e1000
load snd-ens1370
check_bound pci snd_ens1370
if [ -r /proc/asound/cards ]; then
    echo "W: sound $(head -n1 /proc/asound/cards | sed 's/  */ /g; s/^ //')"
else
    fail "sound: no /proc/asound/cards"
fi
# as the sound workload does (workload=sound), whose recorded output tests/integration/test_sound.py checks
if out=$(playback 3 65536 2>&1); then
    echo "W: sound played ${out% tsc=*}"
    echo "T: sound playback tsc=${out##* tsc=}"
else
    fail "sound: $out"
fi
load ata_piix
check_bound pci ata_piix
load uhci-hcd
check_bound pci uhci_hcd
load usb-storage delay_use=0
wait_for 30 has_bound usb usb-storage
check_bound usb usb-storage
load sd_mod
wait_for 30 sh -c 'ls /sys/block | grep -q "^sd" && [ $(ls /sys/bus/scsi/drivers/sd | grep -c "^[0-9]") -ge 2 ]'
check_bound scsi sd
phase_end

# --- network ---
phase network
ping_loss=unknown
iface=
for n in /sys/class/net/*; do
    [ "$(basename "$(readlink -f "$n/device/driver" 2>/dev/null)")" = e1000 ] && iface=$(basename "$n")
done
if [ -z "$iface" ]; then
    fail "net: no e1000 network interface"
else
    echo "W: net e1000 interface=$iface mac=$(cat "/sys/class/net/$iface/address")"
    ip link set lo up
    ip link set "$iface" up
    ip addr add "$GUEST_IP/24" dev "$iface"
    wait_for 20 grep -qx 1 "/sys/class/net/$iface/carrier" || fail "net: $iface has no carrier"
    echo "W: net $iface up address=$GUEST_IP/24 carrier=$(cat "/sys/class/net/$iface/carrier" 2>/dev/null)"
    ping -c 10 -i 0.2 -W 5 "$HOST_IP" >/tmp/ping.out 2>&1
    summary=$(grep 'packets transmitted' /tmp/ping.out)
    echo "W: net ping $HOST_IP: $summary"
    rtt=$(grep 'round-trip' /tmp/ping.out)
    [ -z "$rtt" ] || echo "T: net ping $rtt"
    ping_loss=$(echo "$summary" | sed -n 's/.* \([0-9.]*%\) packet loss.*/\1/p')
    [ "$ping_loss" = 0% ] || fail "net: ping lost ${ping_loss:-everything}"
fi
phase_end

# --- disks ---
phase disks
disks_ok=0
# The pattern: 256 KiB of seeded pseudo-random bytes, a different seed for each disk (so swapped or misplaced
# data changes the checksum). /bin/pattern takes milliseconds; a seq or awk loop took seconds of guest time.
pattern 1 $PATTERN_BYTES >/tmp/pattern.ata
pattern 2 $PATTERN_BYTES >/tmp/pattern.usb
for kind in ata usb; do
    dev=$(disk_of_kind $kind)
    if [ -z "$dev" ]; then
        fail "disk $kind: no /dev/sd* on the $kind bus"
        continue
    fi
    pattern=/tmp/pattern.$kind
    [ "$(stat -c %s "$pattern")" -eq $PATTERN_BYTES ] || fail "disk $kind: pattern is not $PATTERN_BYTES bytes"
    want=$(md5sum <"$pattern" | cut -d' ' -f1)
    sectors=$(cat "/sys/block/$dev/size")
    echo "W: disk $kind device=$dev sectors=$sectors"
    dd if="$pattern" of="/dev/$dev" bs=64k conv=fsync 2>/dev/null || fail "disk $kind: write to /dev/$dev failed"
    blockdev --flushbufs "/dev/$dev"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    read_before=$(awk '{print $3}' "/sys/block/$dev/stat")
    got=$(dd if="/dev/$dev" bs=64k count=$((PATTERN_BYTES / 65536)) 2>/dev/null | md5sum | cut -d' ' -f1)
    read_sectors=$(($(awk '{print $3}' "/sys/block/$dev/stat") - read_before))
    [ $read_sectors -ge $((PATTERN_BYTES / 512)) ] || fail "disk $kind: read back only $read_sectors sectors from the device"
    if [ "$got" = "$want" ]; then
        echo "W: disk $kind wrote+read $PATTERN_BYTES bytes md5=$got match"
        disks_ok=$((disks_ok + 1))
    else
        fail "disk $kind: read back md5=$got, wrote md5=$want"
    fi
done
phase_end

# --- processes ---
phase processes
procs_ok=0
i=0
while [ $i -lt $PROCS ]; do
    /bin/tsc >/dev/null && procs_ok=$((procs_ok + 1))
    i=$((i + 1))
done
echo "W: procs fork+exec $procs_ok/$PROCS ok"
[ $procs_ok -eq $PROCS ] || fail "procs: only $procs_ok of $PROCS ran"
phase_end

read -r up _ </proc/uptime
tsc=$(/bin/tsc)
echo "T: workload basic uptime=$up secs=$(awk "BEGIN{printf \"%.2f\", $up - $start_up}") tsc_delta=$((tsc - start_tsc))"
result=PASS
[ $fails -eq 0 ] || result=FAIL
echo "W: WORKLOAD-END result=$result fails=$fails drivers=$drivers_ok/6 ping_loss=$ping_loss disks=$disks_ok/2 procs=$procs_ok/$PROCS"
[ $fails -eq 0 ]
