#!/bin/sh
# The sound workload: load snd-ens1370 and play a seeded pattern through the ES1370's DAC2 with /bin/playback (raw
# ALSA PCM ioctls: S16_LE stereo at 44100 Hz, periods of 1024 frames), so that the host can compare what the card
# played, recorded by Bochs (tools/bochs_run.py --es1370: RUN_DIR/es1370.wav), with the pattern
# (tests/integration/test_sound.py).
# Output: `W: ` lines are deterministic, `T: ` lines carry timings (guest TSC). Ends with
# `W: WORKLOAD-END result=PASS|FAIL fails=N played=BYTES`; /init powers off afterwards.

SEED=3
BYTES=65536
PERIOD_BYTES=4096  # playback's period (1024 frames of 4 bytes): the card interrupts once per period
# Bochs writes the card's output to the wave file from a host thread, 0.1 s of audio per 0.1 s of host time, and
# drops what is still queued when the machine powers off; idle guest time costs Bochs almost no host time. So the
# guest stays busy for this many instructions after playing (over 1 s of host time at Bochs' 85-150 M/s here).
FLUSH_TSC=200000000

fails=0
played=0
fail() { fails=$((fails + 1)); echo "W: FAIL $*"; }

# the count of the card's interrupt line in /proc/interrupts (one CPU)
card_interrupts() { awk '/snd_ens1370/ { n += $2 } END { print n + 0 }' /proc/interrupts; }

read -r start_up _ </proc/uptime
start_tsc=$(/bin/tsc)
echo "W: workload sound start"
# Asynchronous kernel info messages could split a W: line on the console: warnings and worse only (see basic.sh).
echo 5 >/proc/sys/kernel/printk

if out=$(modprobe snd-ens1370 2>&1); then
    echo "W: module snd-ens1370 loaded"
else
    fail "module snd-ens1370 did not load: $out"
fi
devs=$(ls /sys/bus/pci/drivers/snd_ens1370 2>/dev/null | grep -E '^[0-9]' | tr '\n' ' ' | sed 's/ $//')
[ -n "$devs" ] || fail "driver snd_ens1370 bound to nothing"
echo "W: driver snd_ens1370 bound: $devs"
if [ -r /proc/asound/cards ]; then
    echo "W: sound $(head -n1 /proc/asound/cards | sed 's/  */ /g; s/^ //')"
else
    fail "sound: no /proc/asound/cards"
fi
# devtmpfs creates the nodes when the card registers
for node in controlC0 pcmC0D0p; do
    [ -c "/dev/snd/$node" ] || fail "sound: no /dev/snd/$node"
done
echo "W: sound nodes $(ls /dev/snd | tr '\n' ' ' | sed 's/ $//')"

md5=$(pattern $SEED $BYTES | md5sum | cut -d' ' -f1)
echo "W: sound pattern seed=$SEED bytes=$BYTES md5=$md5"
irq_before=$(card_interrupts)
if out=$(playback $SEED $BYTES 2>&1); then
    echo "W: sound played ${out% tsc=*}"
    echo "T: sound playback tsc=${out##* tsc=}"
    played=$(echo "$out" | sed -n 's/.* bytes=\([0-9]*\) .*/\1/p')
    [ "$played" = $BYTES ] || fail "sound: played $played bytes, not $BYTES"
else
    fail "sound: $out"
fi
interrupts=$(($(card_interrupts) - irq_before))
echo "W: sound card interrupts=$interrupts"
[ $interrupts -eq $((BYTES / PERIOD_BYTES)) ] || fail "sound: $interrupts card interrupts for $((BYTES / PERIOD_BYTES)) periods"

flush_start=$(/bin/tsc)
while [ $(($(/bin/tsc) - flush_start)) -lt $FLUSH_TSC ]; do :; done

read -r up _ </proc/uptime
tsc=$(/bin/tsc)
echo "T: workload sound uptime=$up secs=$(awk "BEGIN{printf \"%.2f\", $up - $start_up}") tsc_delta=$((tsc - start_tsc))"
result=PASS
[ $fails -eq 0 ] || result=FAIL
echo "W: WORKLOAD-END result=$result fails=$fails played=$played"
[ $fails -eq 0 ]
