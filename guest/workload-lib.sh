# Shell helpers the workloads share, installed as /lib/workload-lib.sh; a workload sources it with
# `. /lib/workload-lib.sh`.

# say LINE: print LINE and wait until the serial line has sent it (busybox stty sets the terminal with TCSADRAIN;
# onlcr is the console's setting already), so that a kernel message printed right after cannot land inside it
say() {
    echo "$*"
    stty onlcr 2>/dev/null
}

# wait_for SECONDS COMMAND...: poll (every 0.1 s of guest time) until COMMAND succeeds
wait_for() {
    tries=$(($1 * 10)); shift
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ $tries -gt 0 ] || return 1
        sleep 0.1
    done
}

# disk_of_kind ata|usb: the sd disk on that bus, told by its sysfs path, not by the order the disks appeared in
disk_of_kind() {
    for b in /sys/block/sd*; do
        [ -e "$b" ] || continue
        case $(readlink -f "$b") in
            */ata[0-9]*/*) [ "$1" = ata ] && basename "$b" ;;
            */usb[0-9]*/*) [ "$1" = usb ] && basename "$b" ;;
        esac
    done | head -n1
}
