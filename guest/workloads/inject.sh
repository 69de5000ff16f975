#!/bin/sh
# The fault-injector workload (workload=inject): chariot_inject.ko (/lib/chariot/, from the isolation initramfs)
# puts faults chosen by tools/faultgen.py into e1000, unisolated. The faults come on the kernel command line, as
# faultgen's fields joined by commas (module,symbol,offset,orig,new,type):
#   inject_load=...  armed before `modprobe e1000`: applied at MODULE_STATE_COMING, before its init and probe run
#   inject_init=...  armed before it is reloaded (rmmod, modprobe): a fault in its init function (.init.text)
#   inject_live=...  armed once e1000 is live again: applied at once
# The init and live faults are traced (`trace on`): the state line counts how often each ran (executed=).
# Then the error paths: the live fault armed a second time (its bytes are no longer the original ones: mismatch,
# EILSEQ), a function e1000 does not have (nosymbol, ENOENT), a fault armed for a module that is not loaded and
# disarmed, a malformed command (EINVAL).
#
# Output: `W: inject <step> rc=<exit status> [err=<the shell's write error>]` and `W: inject <step> <the
# /proc/chariot_inject line>`; after each load `W: inject <when> bound=<e1000's PCI devices> ifaces=<interfaces>`;
# after the reload `W: inject ping ...` and how often e1000's init said "copybreak enabled"; then `W: WORKLOAD-END
# result=PASS|FAIL fails=N`: a failure is a step whose status differs from what this workload expects whatever the
# faults are (what a fault does to e1000 is for the test to judge). The injector logs every outcome on the console
# (`chariot_inject: applied ...`).

. /lib/workload-lib.sh
MODDIR=/lib/chariot


fails=0
fail() { fails=$((fails + 1)); say "W: FAIL $*"; }

# command STEP WANT TEXT: write TEXT to /proc/chariot_inject in one write(2), report its status and the state;
# WANT is ok or error
command() {
    out=$({ echo "$3" >/proc/chariot_inject; } 2>&1)
    rc=$?
    say "W: inject $1 rc=$rc${out:+ err=$out}"
    say "W: inject $1 $(cat /proc/chariot_inject)"
    case "$2:$rc" in
        ok:0 | error:[1-9]*) ;;
        *) fail "inject $1: expected $2" ;;
    esac
}

report_e1000() {
    bound=$(ls /sys/bus/pci/drivers/e1000 2>/dev/null | grep -E '^[0-9]' | tr '\n' ' ' | sed 's/ $//')
    say "W: inject $1 bound=${bound:-none} ifaces=$(ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"
}

echo 5 >/proc/sys/kernel/printk
load_fault=
init_fault=
live_fault=
for arg in $(cat /proc/cmdline); do
    case $arg in
        inject_load=*) load_fault=$(echo "${arg#inject_load=}" | tr ',' ' ') ;;
        inject_init=*) init_fault=$(echo "${arg#inject_init=}" | tr ',' ' ') ;;
        inject_live=*) live_fault=$(echo "${arg#inject_live=}" | tr ',' ' ') ;;
    esac
done
[ -n "$load_fault" ] && [ -n "$init_fault" ] && [ -n "$live_fault" ] ||
    fail "inject: inject_load=, inject_init= and inject_live= are needed"

insmod "$MODDIR/chariot_inject.ko" || fail "insmod chariot_inject"
say "W: inject start $(cat /proc/chariot_inject)"

# A fault in e1000's load path: its init and probe run faulty.
command arm-load ok "arm $load_fault"
modprobe e1000
say "W: inject modprobe rc=$?"
say "W: inject after-load $(cat /proc/chariot_inject)"
report_e1000 after-load

# One-shot: the reload runs a clean probe, and the fault armed for its init, traced from here on (it runs once).
rmmod e1000 || fail "rmmod e1000"
command trace-on ok "trace on"
command arm-init ok "arm $init_fault"
modprobe e1000 || fail "modprobe e1000 (reload)"
report_e1000 after-reload
say "W: inject after-reload $(cat /proc/chariot_inject)"
say "W: inject copybreak-messages=$(dmesg | grep -c 'copybreak enabled for packets <= 256 bytes')"
iface=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
if [ -n "$iface" ]; then
    ip link set "$iface" up && ip addr add 192.168.10.2/24 dev "$iface"
    sleep 2
    say "W: inject ping $(ping -c 3 -W 5 192.168.10.1 | grep 'packets transmitted')"
fi

# A fault in the live module, then the ways arming can fail.
command arm-live ok "arm $live_fault"
command arm-live-again error "arm $live_fault"
command arm-nosymbol error "arm e1000 chariot_no_such_function 0 90 90"
command arm-unloaded ok "arm ne2k_pci ne2k_pci_init_one 0 0f1f44 0f1f44"
command disarm ok "disarm"
command arm-malformed error "arm e1000 e1000_probe 0 e8 31c0"
command trace-malformed error "trace maybe"

result=PASS
[ "$fails" -eq 0 ] || result=FAIL
say "W: WORKLOAD-END result=$result fails=$fails"
