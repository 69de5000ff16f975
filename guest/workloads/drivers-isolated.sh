#!/bin/sh
# The basic workload with drivers isolated from load (workload=drivers-isolated): the agent arms
# `isolate-on-load <module> <policy>` for each module named by `isolate=<m>[,<m>...]` (default: all six drivers
# under test) before basic.sh loads them, so every write they make to kernel memory is checked by the hypervisor.
# `isolation=audit|enforce` (default audit) is the domains' policy. The workload's own `W:` lines must equal those
# of an unisolated run; afterwards the agent's per-module lines are printed as `I: chariot ...`.
# Needs the isolation initramfs (/lib/chariot/chariot_agent.ko) and the hypervisor.
modules="e1000 snd_ens1370 ata_piix uhci_hcd usb_storage sd_mod"
policy=audit
for arg in $(cat /proc/cmdline); do
    case $arg in
        isolate=*) modules=$(echo "${arg#isolate=}" | tr ',' ' ') ;;
        isolation=*) policy=${arg#isolation=} ;;
    esac
done

armed=0
if insmod /lib/chariot/chariot_agent.ko; then
    for m in $modules; do
        echo "isolate-on-load $m $policy" >/proc/chariot && armed=$((armed + 1))
    done
fi
echo "W: drivers-isolated policy=$policy armed=$armed modules=$(echo $modules | tr ' ' ',')"
sh /workloads/basic.sh
rc=$?
# one line per module: its domain, violations, intervals
sed 's/^/I: chariot /' /proc/chariot
[ $rc -eq 0 ] && [ $armed -eq $(echo $modules | wc -w) ]
