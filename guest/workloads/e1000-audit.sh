#!/bin/sh
# e1000 isolated in audit mode while it sends and receives (workload=e1000-audit): every write the driver makes to
# kernel memory it is not authorized for traps and is emulated (audit: it takes effect, and is logged as a
# violation), including its device-register writes through ioremap'd memory, so the network must work exactly as
# without isolation. e1000_isolation=load (default) isolates it from load (`isolate-on-load` before modprobe), so
# the agent sees its probe-time allocations, I/O mappings and DMA rings; e1000_isolation=late isolates the loaded
# driver (`isolate`), whose earlier memory the agent never saw. Needs the isolation initramfs
# (/lib/chariot/chariot_agent.ko) and the hypervisor.
echo 5 >/proc/sys/kernel/printk
when=load
for arg in $(cat /proc/cmdline); do
    case $arg in
        e1000_isolation=*) when=${arg#e1000_isolation=} ;;
    esac
done
fails=0
insmod /lib/chariot/chariot_agent.ko || fails=$((fails + 1))
if [ "$when" = late ]; then
    modprobe e1000 || fails=$((fails + 1))
    echo "isolate e1000 audit" >/proc/chariot || fails=$((fails + 1))
else
    echo "isolate-on-load e1000 audit" >/proc/chariot || fails=$((fails + 1))
    modprobe e1000 || fails=$((fails + 1))
fi
ip link set eth0 up && ip addr add 192.168.10.2/24 dev eth0 || fails=$((fails + 1))
sleep 2
echo "W: e1000-audit when=$when $(ping -c 10 192.168.10.1 | grep 'packets transmitted')"
echo "I: $(cat /proc/chariot)"
result=PASS
[ "$fails" -eq 0 ] || result=FAIL
echo "W: WORKLOAD-END result=$result fails=$fails"
