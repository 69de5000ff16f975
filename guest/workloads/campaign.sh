#!/bin/sh
# Fault-injection campaign (workload=campaign): runs the entries of /campaign/plan, written by tools/campaign.py
# and appended to the initramfs as a cpio archive of its own, one after the other in this boot.
#
# Plan lines (one a line, in this order):
#   driver NAME | env plain|isolated | module MODNAME
#   stack MOD[:PARAM=V,...]...                            modprobe order (the faulted MODNAME is among them)
#   workload net SYSFS_DRIVER | disk ata|usb | sound      what exercises the driver and checks its own results
#   tftp FILE BYTES MD5                                   (net) the file the Bochs vnet host serves
#   limits LOAD WORKLOAD RECOVER UNLOAD                   guest seconds each step may take
#   baseline N                                            entry N: no fault (cycles, false positives)
#   fault N SEED SYMBOL OFFSET ORIG NEW TYPE              entry N: arm this fault (tools/faultgen.py) in MODNAME
#   check N                                               entry N: no fault, run only if the entry before failed
# An entry: arm the fault (/proc/chariot_inject; applied when MODNAME loads; plain: traced, so the log says whether
# it ran), isolated: `isolate-on-load MODNAME
# enforce reload=1` (only the faulted module is isolated), modprobe the stack, run the workload, let a recovery
# under way end (and run the workload again if the driver was reloaded), unload the stack. The boot goes on only
# while the stack unloads cleanly (the faulty code is gone with it; a reload gets clean code) and, after an entry
# whose workload failed, the check entry that follows passes: the fault may have damaged the kernel beyond its
# driver, and later entries must not run on such a kernel. Otherwise it stops (`C: stop`), and the runner boots
# again for the entries left.
#
# Output, one `C: ` line a step (the runner parses them; kernel messages may come between them):
#   C: boot driver= env= entries= inject=yes|no agent=yes|no|-
#   C: start n= kind=baseline|fault|check seed= tsc=
#   C: load n= result=ok|fail|timeout tsc_delta=
#   C: workload n= run=1|2 verdict=PASS|FAIL|TIMEOUT bytes= tsc= detail= cycles=   (bytes and tsc: the transfer,
#                                                           cycles: the whole workload; run=2 after a reload:
#                                                           the agent's, or the stack's after a fault at unload)
#   C: inject n= state=... executed= (faults: the injector's line)  C: agent n= domain=... (the agent's line for
#                                                           MODNAME)
#   C: unload n= tsc=                                     (the stack is about to be unloaded; again after run=2
#                                                           when a fault at unload made the entry load it again)
#   C: end n= verdict= unload=ok|fail|timeout|skipped clean=1|0 tsc=   (verdict: the last workload run's)
#   C: stop n= reason=...     C: done
#   C: hb n= t=   (every guest second while a step runs: the runner's sign that the kernel still schedules)
# The kernel command line should make an oops a panic (oops=panic panic=0): a crash then ends the boot cleanly.

. /lib/workload-lib.sh
PLAN=/campaign/plan
INJECT=/proc/chariot_inject
AGENT=/proc/chariot
HOST_IP=192.168.10.1
GUEST_IP=192.168.10.2
DISK_BYTES=262144
SOUND_BYTES=65536 # /bin/playback: a multiple of its period
SOUND_PERIOD=4096
POLL_US=200000 # a step's completion is polled 5 times a guest second (each poll forks: keep it rare)
HB_POLLS=5

# limited SECONDS OUT CMD...: CMD (a function: it runs in a subshell) in the background, output to OUT, for at most
# SECONDS of guest time; its status, or 124 when it was still running (it is killed; a task stuck in the kernel
# stays, which is why the boot stops after a timeout)
limited() {
    polls=$(($1 * 1000000 / POLL_US))
    out=$2
    shift 2
    "$@" >"$out" 2>&1 &
    pid=$!
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$i" -ge "$polls" ]; then
            kill -9 "$pid" 2>/dev/null
            return 124
        fi
        usleep "$POLL_US"
        i=$((i + 1))
        [ $((i % HB_POLLS)) -ne 0 ] || say "C: hb n=$n t=$((i * POLL_US / 1000000))"
    done
    wait "$pid"
}

# --- the driver workloads: each prints `bytes=N tsc=N detail=...` on its last line and fails if a check fails ---

# wait_until SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds, for SECONDS of guest time at most (by
# the clock, unlike wait_for: each poll forks, and a count of polls would stretch with a slow COMMAND)
wait_until() {
    read -r now _ </proc/uptime
    deadline=$((${now%.*} + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        read -r now _ </proc/uptime
        [ "${now%.*}" -lt "$deadline" ] || return 1
        usleep 100000
    done
}

# net SYSFS_DRIVER: configure the interface the driver registered, ping the host, fetch the TFTP file and compare
net_workload() {
    iface=
    for d in /sys/class/net/*; do
        [ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = "$1" ] && iface=$(basename "$d")
    done
    [ -n "$iface" ] || { echo "bytes=0 tsc=0 detail=no-interface"; return 1; }
    ip link set "$iface" up && ip addr replace "$GUEST_IP/24" dev "$iface" ||
        { echo "bytes=0 tsc=0 detail=ip-config-failed"; return 1; }
    wait_until 10 grep -qx 1 "/sys/class/net/$iface/carrier" || { echo "bytes=0 tsc=0 detail=no-carrier"; return 1; }
    received=$(ping -c 3 -i 0.2 -W 2 "$HOST_IP" 2>/dev/null | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
    [ "${received:-0}" -ge 1 ] || { echo "bytes=0 tsc=0 detail=ping-lost-all"; return 1; }
    rm -f /tmp/tftp.bin
    start=$(/bin/tsc)
    tftp -g -r "$tftp_file" -l /tmp/tftp.bin "$HOST_IP" 2>/dev/null
    rc=$?
    tsc=$(($(/bin/tsc) - start))
    got=$(md5sum </tmp/tftp.bin 2>/dev/null | cut -d' ' -f1)
    bytes=$(stat -c %s /tmp/tftp.bin 2>/dev/null || echo 0)
    if [ "$rc" -ne 0 ] || [ "$got" != "$tftp_md5" ] || [ "$bytes" -ne "$tftp_bytes" ]; then
        echo "bytes=$bytes tsc=$tsc detail=tftp-rc=$rc,md5=$got,ping=$received/3"
        return 1
    fi
    echo "bytes=$bytes tsc=$tsc detail=ping=$received/3,tftp-md5-match"
}

# disk ata|usb: write a seeded pattern to the disk on that bus, drop the caches, read it back from the device
has_disk() { [ -n "$(disk_of_kind "$1")" ]; }
# A disk appears in about a second; a USB disk whose commands fail is given up for lost only when the SCSI scan
# ends, after its INQUIRY's retries (about 7 s): the wait outlasts that scan, so the disk is missing once it ended
DISK_WAIT=12
disk_workload() {
    wait_until $DISK_WAIT has_disk "$1" || { echo "bytes=0 tsc=0 detail=no-disk"; return 1; }
    dev=$(disk_of_kind "$1")
    pattern "$n" $DISK_BYTES >/tmp/pattern
    want=$(md5sum </tmp/pattern | cut -d' ' -f1)
    start=$(/bin/tsc)
    dd if=/tmp/pattern of="/dev/$dev" bs=64k conv=fsync 2>/dev/null ||
        { echo "bytes=0 tsc=0 detail=write-failed"; return 1; }
    echo 3 >/proc/sys/vm/drop_caches
    got=$(dd if="/dev/$dev" bs=64k count=$((DISK_BYTES / 65536)) 2>/dev/null | md5sum | cut -d' ' -f1)
    tsc=$(($(/bin/tsc) - start))
    if [ "$got" != "$want" ]; then
        echo "bytes=0 tsc=$tsc detail=read-back-md5=$got,wrote=$want"
        return 1
    fi
    echo "bytes=$((2 * DISK_BYTES)) tsc=$tsc detail=$dev,md5-match"
}

# sound: the card and its playback PCM exist, and /bin/playback plays a seeded pattern through ALSA, one card
# interrupt a period (what the card played is not compared here: tests/integration/test_sound.py does that)
card_interrupts() { awk '/snd_ens1370/ { n += $2 } END { print n + 0 }' /proc/interrupts; }
sound_workload() {
    grep -q ENS1370 /proc/asound/cards 2>/dev/null || { echo "bytes=0 tsc=0 detail=no-card"; return 1; }
    [ -c /dev/snd/pcmC0D0p ] || { echo "bytes=0 tsc=0 detail=no-pcm-device"; return 1; }
    before=$(card_interrupts)
    out=$(/bin/playback "$n" $SOUND_BYTES 2>&1)
    rc=$?
    interrupts=$(($(card_interrupts) - before))
    bytes=$(echo " $out" | sed -n 's/.* bytes=\([0-9]*\) .*/\1/p')
    tsc=$(echo " $out" | sed -n 's/.* tsc=\([0-9]*\).*/\1/p')
    if [ "$rc" -ne 0 ] || [ "$bytes" != $SOUND_BYTES ] || [ "$interrupts" -lt $((SOUND_BYTES / SOUND_PERIOD)) ]; then
        why=$(echo "$out" | tail -n1 | tr -c 'A-Za-z0-9.,:()\n-' '_')
        echo "bytes=0 tsc=${tsc:-0} detail=playback-rc=$rc,bytes=${bytes:-none},interrupts=$interrupts,$why"
        return 1
    fi
    echo "bytes=$bytes tsc=$tsc detail=played,interrupts=$interrupts"
}

# the driver's workload; its last line gets cycles= (guest TSC of the whole workload)
workload() {
    start_all=$(/bin/tsc)
    case $workload_kind in
        net) net_workload "$workload_arg" ;;
        disk) disk_workload "$workload_arg" ;;
        sound) sound_workload ;;
    esac >/tmp/workload.last 2>&1
    rc=$?
    echo "$(tail -n1 /tmp/workload.last) cycles=$(($(/bin/tsc) - start_all))"
    return $rc
}

# --- entry steps ---

# the stack's modules in order; MOD:A=x,B=y passes module parameters
load_stack() {
    for m in $stack; do
        # shellcheck disable=SC2046 # one word a parameter
        modprobe "${m%%:*}" $(echo "${m#"${m%%:*}"}" | tr ':,' '  ') || return 1
    done
}

loaded() { grep -q "^$(echo "${1%%:*}" | tr - _) " /proc/modules; }

# the stack's modules (and the dependencies nothing else uses) out of the kernel, last loaded first
unload_stack() {
    for m in $(echo "$stack" | tr ' ' '\n' | sed -n '1!G;h;$p'); do
        loaded "$m" || continue
        modprobe -r "${m%%:*}" || return 1
    done
}

stack_loaded() {
    for m in $stack; do
        loaded "$m" && return 0
    done
    return 1
}

watch_line() { grep " module=$module " $AGENT 2>/dev/null; }
field() { echo " $1 " | sed -n "s/.* $2=\([^ ]*\) .*/\1/p"; }

# run_workload RUN: the workload under its time limit, one `C: workload` line; $verdict is PASS, FAIL or TIMEOUT
run_workload() {
    limited "$limit_workload" /tmp/workload.out workload
    rc=$?
    case $rc in
        0) verdict=PASS ;;
        124) verdict=TIMEOUT ;;
        *) verdict=FAIL ;;
    esac
    say "C: workload n=$n run=$1 verdict=$verdict $(tail -n1 /tmp/workload.out 2>/dev/null)"
}

# isolated: a violation reported during the run starts a recovery; wait until it ended
await_recovery() {
    i=0
    while [ "$i" -lt $((limit_recover * 1000000 / POLL_US)) ]; do
        w=$(watch_line)
        state=$(field "$w" state)
        violations=$(field "$w" violations)
        [ "$state" = recovering ] || { [ "$state" = running ] && [ "${violations:-0}" != 0 ]; } || return 0
        usleep "$POLL_US"
        i=$((i + 1))
        [ $((i % HB_POLLS)) -ne 0 ] || say "C: hb n=$n t=$((i * POLL_US / 1000000))"
    done
    return 1
}

# unload: the stack out of the kernel under its time limit; $unload is ok, fail or timeout
unload_within_limit() {
    limited "$limit_unload" /tmp/unload.out unload_stack
    case $? in
        0) unload=ok ;;
        124) unload=timeout ;;
        *) unload=fail ;;
    esac
}

# isolated: a fault in the faulted module's exit function, met while the stack unloaded, is contained by the
# hypervisor and counted by the agent as the module goes (its watch: state=unloaded reason=fault-at-unload; gone as
# asked, so not reloaded). Loaded again, with clean code, the driver must work again (run=2), and unload again.
reload_after_unload_fault() {
    await_recovery || say "C: error n=$n step=recovery-after-unload reason=still-recovering"
    w=$(watch_line)
    [ "$(field "$w" state)" = unloaded ] && [ "$(field "$w" reason)" = fault-at-unload ] || return 0
    say "C: agent n=$n $w"
    limited "$limit_load" /tmp/load.out load_stack && run_workload 2
    say "C: unload n=$n tsc=$(/bin/tsc)"
    unload_within_limit
}

# run_entry: one entry; status 0 when its last workload passed, 1 when it failed, 2 when the stack did not unload
run_entry() {
    say "C: start n=$n kind=$kind seed=$seed tsc=$(/bin/tsc)"
    if [ "$env" = isolated ]; then
        echo "isolate-on-load $module enforce reload=1" >$AGENT || say "C: error n=$n step=isolate-on-load"
    fi
    if [ "$kind" = fault ]; then
        if [ "$inject" = yes ]; then
            echo "arm $module $symbol $offset $orig $new $type" >$INJECT || say "C: error n=$n step=arm"
        else
            say "C: error n=$n step=arm reason=no-injector"
        fi
    fi
    start=$(/bin/tsc)
    limited "$limit_load" /tmp/load.out load_stack
    case $? in
        0) load=ok ;;
        124) load=timeout ;;
        *) load=fail ;;
    esac
    detail=$(tail -n1 /tmp/load.out | tr -c 'A-Za-z0-9.,:/()\n-' '_')
    say "C: load n=$n result=$load tsc_delta=$(($(/bin/tsc) - start)) detail=$detail"
    verdict=FAIL
    [ "$load" = timeout ] || run_workload 1
    if [ "$env" = isolated ]; then
        await_recovery || say "C: error n=$n step=recovery reason=still-recovering"
        say "C: agent n=$n $(watch_line)"
        # reloaded with clean code: the driver must work again
        [ "$(field "$(watch_line)" state)" = recovered ] && run_workload 2
    fi
    # after the workload: a traced fault's line counts how often it ran
    [ "$inject" = no ] || [ "$kind" != fault ] || say "C: inject n=$n $(cat $INJECT)"
    unload=ok
    if [ "$load" = timeout ] || [ "$verdict" = TIMEOUT ]; then
        unload=skipped
    else
        say "C: unload n=$n tsc=$(/bin/tsc)"
        unload_within_limit
        [ "$env" = isolated ] && [ "$unload" = ok ] && reload_after_unload_fault
    fi
    [ "$env" = isolated ] && echo "release $module" >$AGENT 2>/dev/null
    clean=1
    { [ "$unload" = ok ] && ! stack_loaded; } || clean=0
    say "C: end n=$n verdict=$verdict unload=$unload clean=$clean tsc=$(/bin/tsc)"
    [ "$clean" = 1 ] || return 2
    [ "$verdict" = PASS ]
}

# --- main ---
echo 5 >/proc/sys/kernel/printk # warnings and worse on the console (recovery steps, oopses); info only in dmesg
[ -f $PLAN ] || { say "C: stop n=0 reason=no-plan"; exit 1; }
while read -r key rest; do
    # shellcheck disable=SC2086 # the words of the line
    set -- $rest
    case $key in
        driver) driver=$1 ;;
        env) env=$1 ;;
        module) module=$1 ;;
        stack) stack=$rest ;;
        workload) workload_kind=$1 workload_arg=$2 ;;
        tftp) tftp_file=$1 tftp_bytes=$2 tftp_md5=$3 ;;
        limits) limit_load=$1 limit_workload=$2 limit_recover=$3 limit_unload=$4 ;;
    esac
done <$PLAN

inject=no
insmod /lib/chariot/chariot_inject.ko 2>/dev/null && inject=yes
# plain: each fault's first execution is logged (the probe would run isolated code as the kernel's: not there)
[ "$inject" = no ] || [ "$env" != plain ] || echo "trace on" >$INJECT || say "C: error n=0 step=trace"
agent=-
if [ "$env" = isolated ]; then
    agent=no
    insmod /lib/chariot/chariot_agent.ko && agent=yes
fi
ip link set lo up
say "C: boot driver=$driver env=$env entries=$(grep -cE '^(baseline|fault) ' $PLAN) inject=$inject agent=$agent"

n=0
failed=0
while read -r kind n seed symbol offset orig new type <&3; do
    case $kind in
        baseline | check) seed=- ;;
        fault) ;;
        *) continue ;;
    esac
    [ "$kind" != check ] || [ "$failed" = 1 ] || continue
    run_entry
    case $?:$kind in
        0:*) failed=0 ;;
        1:check) say "C: stop n=$n reason=check-failed"; exit 0 ;;
        1:*) failed=1 ;;
        *) say "C: stop n=$n reason=not-clean"; exit 0 ;;
    esac
done 3<$PLAN
say "C: done"
