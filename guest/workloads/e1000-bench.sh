#!/bin/sh
# e1000 throughput with and without isolation (workload=e1000-bench, isolation=none|agent|audit|enforce): fetches
# /bench.bin (put in the run's TFTP directory by tools/bench.py) over TFTP several times and prints the guest TSC
# the transfers took. Isolated, e1000 is isolated from load (`isolate-on-load` before modprobe: the agent authorizes
# its registers, DMA rings, heap and skbs; e1000_isolation=late isolates the loaded driver instead, whose earlier
# memory the agent never saw). isolation=agent loads the agent and isolates nothing: the cost of its probes alone.
# Needs the isolation initramfs (/lib/chariot/chariot_agent.ko) unless isolation=none.
# e1000_open=N isolates it with an open-page cache of N pages (the agent's open=N).
# bench_nic=ne2k-pci measures the NE2000 PCI driver the same way (its module ne2k_pci is the one isolated).
# bench_block=N asks the server for N-byte TFTP blocks (RFC 2348; Bochs' vnet server grants it) instead of 512:
# 1468 fills a 1500-byte frame, the segment size of the TCP streams the Chariot papers measured.
# e1000_flood=1 runs a ping flood alongside the transfers (timings then measure both): -A sends the next echo as
# soon as the reply came (Bochs' vnet answers no 1400-byte echo, so the default size).
echo 5 >/proc/sys/kernel/printk
scenario=none
rounds=4
when=load
flood=0
open=
nic=e1000
block=
for arg in $(cat /proc/cmdline); do
    case $arg in
        isolation=*) scenario=${arg#isolation=} ;;
        bench_rounds=*) rounds=${arg#bench_rounds=} ;;
        e1000_isolation=*) when=${arg#e1000_isolation=} ;;
        e1000_flood=*) flood=${arg#e1000_flood=} ;;
        e1000_open=*) open=" open=${arg#e1000_open=}" ;;
        bench_nic=*) nic=${arg#bench_nic=} ;;
        bench_block=*) block="-b ${arg#bench_block=}" ;;
    esac
done
module=$(echo "$nic" | tr - _)
fails=0
if [ "$scenario" = none ]; then
    modprobe "$nic" || fails=$((fails + 1))
elif [ "$scenario" = agent ]; then
    insmod /lib/chariot/chariot_agent.ko || fails=$((fails + 1))
    modprobe "$nic" || fails=$((fails + 1))
elif [ "$when" = late ]; then
    modprobe "$nic" || fails=$((fails + 1))
    insmod /lib/chariot/chariot_agent.ko && echo "isolate $module $scenario$open" >/proc/chariot || fails=$((fails + 1))
else
    insmod /lib/chariot/chariot_agent.ko && echo "isolate-on-load $module $scenario$open" >/proc/chariot ||
        fails=$((fails + 1))
    modprobe "$nic" || fails=$((fails + 1))
fi
ip link set eth0 up && ip addr add 192.168.10.2/24 dev eth0 || fails=$((fails + 1))
ping -c 2 192.168.10.1 >/dev/null || fails=$((fails + 1))
[ "$flood" = 1 ] && { ping -A -q -c 300 192.168.10.1 >/tmp/flood.out 2>&1 & flood_pid=$!; }
rx_before=$(cat /sys/class/net/eth0/statistics/rx_packets)
start=$(/bin/tsc)
i=0
while [ "$i" -lt "$rounds" ]; do
    tftp $block -g -r bench.bin -l /tmp/bench.bin 192.168.10.1 || fails=$((fails + 1))
    i=$((i + 1))
done
end=$(/bin/tsc)
rx_packets=$(($(cat /sys/class/net/eth0/statistics/rx_packets) - rx_before))
if [ "$flood" = 1 ]; then
    wait $flood_pid || fails=$((fails + 1))
    echo "W: e1000-bench flood $(grep 'packets transmitted' /tmp/flood.out)"
fi
bytes=$(($(wc -c </tmp/bench.bin) * rounds))
echo "W: e1000-bench scenario=$scenario md5=$(md5sum </tmp/bench.bin | cut -d' ' -f1)"
echo "T: e1000-bench scenario=$scenario bytes=$bytes tsc_delta=$((end - start)) rx_packets=$rx_packets"
[ "$scenario" = none ] || echo "I: $(cat /proc/chariot)"
result=PASS
[ "$fails" -eq 0 ] || result=FAIL
echo "W: WORKLOAD-END result=$result fails=$fails"
