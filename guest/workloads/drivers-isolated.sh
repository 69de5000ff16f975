#!/bin/sh
# The basic workload with drivers isolated from load (workload=drivers-isolated): the agent arms
# `isolate-on-load <module> <policy>` for each module named by `isolate=<m>[,<m>...]` (default: all six drivers
# under test) before basic.sh loads them, so every write they make to kernel memory is checked by the hypervisor.
# `isolation=audit|enforce` (default audit) is the domains' policy. The workload's own `W:` lines must equal those
# of an unisolated run; afterwards the agent's per-module lines are printed as `I: chariot ...`.
# `unload=1`: then the isolated modules are unloaded (rmmod), so their exit paths run isolated too; the agent
# releases each domain as its module goes, and the hypervisor logs the domain's counts then
# (isolation.domain_destroyed); the agent is unloaded last. `ne2k_pci` in the list (it needs Bochs' ne2k PCI card
# on the slirp back end: Bochs runs one vnet instance, e1000's; basic.sh does not load it): after the rest,
# ne2k-pci (+8390) is loaded, its interface brought up as 10.0.2.15/24, slirp's host 10.0.2.2 pinged, the module
# (and 8390) unloaded, loaded again (its I/O ports must be free again: a denied write to its net_device once left
# them claimed), and unloaded.
# Needs the isolation initramfs (/lib/chariot/chariot_agent.ko) and the hypervisor.
. /lib/workload-lib.sh
modules="e1000 snd_ens1370 ata_piix uhci_hcd usb_storage sd_mod"
policy=audit
unload=0
for arg in $(cat /proc/cmdline); do
    case $arg in
        isolate=*) modules=$(echo "${arg#isolate=}" | tr ',' ' ') ;;
        isolation=*) policy=${arg#isolation=} ;;
        unload=*) unload=${arg#unload=} ;;
    esac
done
SLIRP_HOST_IP=10.0.2.2
SLIRP_GUEST_IP=10.0.2.15

fails=0
fail() { fails=$((fails + 1)); echo "W: FAIL $*"; }
isolated() { case " $modules " in *" $1 "*) return 0 ;; esac; return 1; }
loaded() { grep -q "^$1 " /proc/modules; }

unload_module() {
    if rmmod "$1"; then
        echo "W: unloaded $1"
    else
        fail "rmmod $1"
    fi
}

ne2k_iface() {
    for n in /sys/class/net/*; do
        [ "$(basename "$(readlink -f "$n/device/driver" 2>/dev/null)")" = ne2k-pci ] && basename "$n"
    done
}

# ne2k-pci loaded, used, unloaded, loaded again and unloaded: W: lines; the ping's loss is reported, not judged
# here (the test decides)
ne2k_phase() {
    for round in 1 2; do
        if ! modprobe ne2k-pci; then
            fail "ne2k-pci load $round"
            return
        fi
        iface=$(ne2k_iface)
        if [ -z "$iface" ]; then
            fail "ne2k-pci load $round: no interface ($(dmesg | grep ne2k-pci | tail -n1))"
        else
            echo "W: ne2k-pci load $round interface=$iface"
        fi
        if [ "$round" = 1 ] && [ -n "$iface" ]; then
            ip link set "$iface" up && ip addr add "$SLIRP_GUEST_IP/24" dev "$iface" || fail "ne2k-pci: ip config"
            wait_for 10 grep -qx 1 "/sys/class/net/$iface/carrier" || fail "ne2k-pci: no carrier"
            summary=$(ping -c 3 -i 0.2 -W 2 "$SLIRP_HOST_IP" 2>&1 | grep 'packets transmitted')
            echo "W: ne2k-pci ping $SLIRP_HOST_IP: $summary"
        fi
        unload_module ne2k_pci
        # the library too, as modprobe -r does: the agent's probe on its __alloc_ei_netdev goes with it and must be
        # registered again when it loads again
        unload_module 8390
    done
}

armed=0
if insmod /lib/chariot/chariot_agent.ko; then
    for m in $modules; do
        echo "isolate-on-load $m $policy" >/proc/chariot && armed=$((armed + 1))
    done
fi
echo "W: drivers-isolated policy=$policy armed=$armed modules=$(echo $modules | tr ' ' ',') unload=$unload"
# the agent turns kprobe optimization off while it is loaded (guest-agent/agent_probes.c)
echo "I: kprobes-optimization agent=loaded value=$(cat /proc/sys/debug/kprobes-optimization)"
sh /workloads/basic.sh
rc=$?
# one line per module: its domain, violations, intervals
sed 's/^/I: chariot /' /proc/chariot
if [ "$unload" = 1 ]; then
    # users first: sd_mod before the hosts whose disks it drives
    for m in e1000 snd_ens1370 sd_mod usb_storage uhci_hcd ata_piix; do
        isolated $m && loaded $m && unload_module $m
    done
fi
isolated ne2k_pci && ne2k_phase
if [ "$unload" = 1 ] || isolated ne2k_pci; then
    sed 's/^/I: chariot after-unload /' /proc/chariot
fi
# the agent too (it reports the calls its probes missed, and puts kprobe optimization back)
if [ "$unload" = 1 ]; then
    rmmod chariot_agent || fail "rmmod chariot_agent"
    echo "I: kprobes-optimization agent=unloaded value=$(cat /proc/sys/debug/kprobes-optimization)"
fi
if [ "$unload" = 1 ] || isolated ne2k_pci; then
    echo "W: drivers-isolated unload-end fails=$fails"
fi
[ $rc -eq 0 ] && [ $armed -eq $(echo $modules | wc -w) ] && [ $fails -eq 0 ]
