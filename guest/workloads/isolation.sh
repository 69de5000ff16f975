#!/bin/sh
# The isolation workload (workload=isolation): the guest agent (/lib/chariot/chariot_agent.ko) isolates the demo
# driver chariot_demo, which then makes one legal and six kinds of illegal writes on command; chariot_victim owns
# memory that some of them hit (see tests/demo-driver/chariot_demo.c for what each command writes where).
#
# Scenario: `isolation=none|enforce|audit|recover` on the kernel command line (default none).
#   none     the demo runs unisolated: every write takes effect (the corruption is shown)
#   enforce  `isolate chariot_demo enforce`: the illegal writes are skipped, only `legal` changes anything
#   audit    `isolate chariot_demo audit`: every write takes effect, the illegal ones are counted as violations
#   recover  `isolate-on-load chariot_demo enforce reload=1` before it loads: what it allocates at load is its own
#            (`load_state`). An illegal write is skipped and reported to the agent, which recovers the demo: pinned
#            (in use), it cannot be unloaded (state=failed, still isolated); unpinned, it is unloaded and reloaded
#            (state=recovered, it works again); a fault after that reload is persistent: unloaded, not reloaded
#   crash    as recover, with faults that oops or hang an unprotected kernel (lock_hold, null_read, then spin after the reload;
#            armed and loaded again, wild_call holding rtnl_lock, then null_strscpy; loaded a third time,
#            thread_null, then user_write): the hypervisor aborts the demo's call (the /proc write fails with EIO; the thread waits
#            to be stopped) and releases the locks it held, the agent recovers the demo
#   leak     as recover: leak_timer arms a timer and a delayed work, queues a work that queues itself again and
#            requests an IRQ, then faults (EIO): the recovery's unload releases them (the agent's resource ledger);
#            past their expiry none has run, no IRQ handler of the demo is left, the reloaded demo works and unloads
#            isolated with nothing to release; loaded again (still armed), leak_driver registers a PCI driver and a
#            net_device, requests I/O ports, adds a device and starts a kthread, then faults: the unload releases
#            them all (persistent: not reloaded); rearmed, the demo's probe fails for one of its devices (the
#            kernel reports it: recovered), then, reloaded, it declines its only device (persistent); declining one
#            device of two it serves is no failure; rearmed, bug_call runs into a BUG_ON in kernel code (EIO,
#            recovered), then napi_null's NAPI poll faults in softirq (persistent: unloaded, its napi_disable
#            returns)
#   open     `isolate chariot_demo enforce open=4`: the demo's legal write to its own object leaves that page
#            writable in its view (an open-page cache of 4 pages), so its write just past the object goes unchecked
#            (legal_oob changes it), and so does one to such an object after its free (legal_use_after_free); a
#            write to another page (kernel_data) is still refused
# Without the hypervisor the agent refuses to load: only `none` can pass on bare Bochs.
#
# Output: `W: demo <cmd> changed=yes|no ...` a command (what user space sees afterwards: the hostname, which the
# kernel_data write hits, and /proc/chariot_victim), `W: chariot domain=...` (the agent's /proc/chariot), then
# `W: WORKLOAD-END result=PASS|FAIL fails=N`. A failure is a step that errored (insmod, a write to /proc) or a
# write whose outcome differs from the scenario's expectation. `W: ` lines are deterministic for a scenario;
# `I: ` lines are informational (whether the agent loaded differs between bare Bochs and the hypervisor, and the
# agent's own kernel messages carry timestamps); `T: ` lines carry timings (recover: how long each recovery took).

. /lib/workload-lib.sh
MODDIR=/lib/chariot
COMMANDS="legal oob kernel_data other_module use_after_free use_after_free_page wild stale_page legal"
# Illegal stores the commands above make: oob 2 (the write and its undo), kernel_data, other_module,
# use_after_free, use_after_free_page, wild and stale_page 1 each. The hypervisor must count at least these as
# violations.
ILLEGAL_STORES=8
# recover: how many times to poll /proc/chariot, 0.1 s apart, for a recovery to end
RECOVERY_POLLS=300


fails=0
fail() { fails=$((fails + 1)); say "W: FAIL $*"; }

# proc_write FILE TEXT: write TEXT to FILE in one write(2); the shell's error message (if any) ends up in $out
proc_write() {
    out=$({ echo "$2" >"$1"; } 2>&1)
}

# the outcome a demo command must have in this scenario: yes (the write took effect) or no (it was skipped)
expected_change() {
    case "$scenario:$1" in
        enforce:legal) echo yes ;;
        enforce:*) echo no ;;
        *) echo yes ;;
    esac
}

scenario=none
for arg in $(cat /proc/cmdline); do
    case $arg in
        isolation=*) scenario=${arg#isolation=} ;;
    esac
done
case $scenario in
    none | enforce | audit | recover | crash | leak | open) ;;
    *)
        fail "unknown isolation=$scenario (none, enforce, audit, recover, crash, leak or open)"
        scenario=none
        ;;
esac

say "W: workload isolation start scenario=$scenario"
# DEMO: lines are printk warnings: level 5 shows them (and oopses) but keeps info messages off the console.
echo 5 >/proc/sys/kernel/printk
say "W: hostname=$(uname -n)"

if out=$(insmod "$MODDIR/chariot_agent.ko" 2>&1); then
    agent=yes
    say "I: agent loaded"
else
    agent=no
    say "I: agent not loaded: $out"
    [ "$scenario" = none ] || fail "the agent did not load (isolation=$scenario needs the hypervisor): $out"
fi
# recover, crash, leak: armed before the demo loads, so its domain exists before its init runs
if { [ "$scenario" = recover ] || [ "$scenario" = crash ] || [ "$scenario" = leak ]; } && [ "$agent" = yes ]; then
    if proc_write /proc/chariot "isolate-on-load chariot_demo enforce reload=1"; then
        say "W: isolate-on-load chariot_demo enforce reload=1 ok"
        say "W: chariot $(cat /proc/chariot)"
    else
        fail "isolate-on-load chariot_demo enforce reload=1: $out"
    fi
fi
demo=yes
for mod in chariot_victim chariot_demo; do
    if out=$(insmod "$MODDIR/$mod.ko" 2>&1); then
        say "W: insmod $mod ok"
    else
        fail "insmod $mod: $out"
        demo=no
    fi
done
[ "$demo" = yes ] && say "W: victim $(cat /proc/chariot_victim)"

isolated=no
if { [ "$scenario" = enforce ] || [ "$scenario" = audit ]; } && [ "$agent" = yes ] && [ "$demo" = yes ]; then
    if proc_write /proc/chariot "isolate chariot_demo $scenario"; then
        isolated=yes
        say "W: isolate chariot_demo policy=$scenario ok"
        say "W: chariot $(cat /proc/chariot)"
        # commands the agent must refuse (each write fails; the reason goes to the kernel log)
        for bad in "isolate no_such_module enforce" "isolate chariot_demo $scenario" "isolate chariot_demo sometimes" \
            "release no_such_module" "frobnicate chariot_demo"; do
            if proc_write /proc/chariot "$bad"; then
                fail "the agent accepted '$bad'"
            else
                say "W: refused '$bad'"
            fi
        done
    else
        fail "isolate chariot_demo $scenario: $out"
    fi
fi

# run_demo CMD EXPECTED: one demo command; its outcome (and what user space sees of its target) must be EXPECTED
run_demo() {
    if ! proc_write /proc/chariot_demo "$1"; then
        fail "demo $1: $out"
        return
    fi
    result=$(cat /proc/chariot_demo)
    changed=${result##*changed=}
    seen=
    case $1 in
        kernel_data) seen=" hostname=$(uname -n)" ;;
        other_module | wild | stale_page) seen=" victim $(cat /proc/chariot_victim)" ;;
    esac
    if [ "$changed" = "$2" ]; then
        say "W: demo $1 changed=$changed$seen"
    else
        fail "demo $1 changed=$changed expected=$2$seen"
    fi
}

# Without the isolation the scenario asks for, the illegal writes would corrupt the kernel for nothing.
if [ "$demo" = yes ] && { [ "$scenario" = none ] || [ "$isolated" = yes ]; }; then
    for cmd in $COMMANDS; do
        run_demo "$cmd" "$(expected_change "$cmd")"
    done
fi

# Kernel code the demo calls writes for it, trusted: strscpy's page shared with the demo's view, the hypervisor
# leaves the view at that write instead of judging it, and the copy takes effect in every scenario. Pages that must
# switch views are refused: a lock function's (mutex_lock); one holding the return address of a call into the demo
# (proc_reg_write calls its /proc write function) stops being shared when that call is seen.
if [ "$demo" = yes ] && { [ "$scenario" = none ] || [ "$isolated" = yes ]; }; then
    if [ "$isolated" = yes ]; then
        for fn in strscpy proc_reg_write; do
            if proc_write /proc/chariot "share $fn"; then say "W: share $fn ok"; else fail "share $fn: $out"; fi
        done
        for bad in mutex_lock chariot_no_such_function; do
            if proc_write /proc/chariot "share $bad"; then
                fail "the agent shared $bad"
            else
                say "W: refused 'share $bad': ${out##*: }"
            fi
        done
    fi
    run_demo shared_write yes
    run_demo shared_write yes
fi

if [ "$scenario" = open ] && [ "$agent" = yes ] && [ "$demo" = yes ]; then
    if proc_write /proc/chariot "isolate chariot_demo enforce open=33"; then
        fail "the agent accepted open=33"
    else
        say "W: refused 'open=33'"
    fi
    if proc_write /proc/chariot "isolate chariot_demo enforce open=4"; then
        say "W: isolate chariot_demo enforce open=4 ok"
        run_demo legal_oob yes
        run_demo legal_use_after_free yes
        run_demo kernel_data no
        say "W: chariot $(cat /proc/chariot)"
        proc_write /proc/chariot "release chariot_demo" || fail "release chariot_demo: $out"
    else
        fail "isolate chariot_demo enforce open=4: $out"
    fi
fi

# demo_watch: chariot_demo's line in /proc/chariot, into $line
demo_watch() {
    line=$(grep 'module=chariot_demo ' /proc/chariot)
}

# fault CMD STATE: the demo makes the illegal write CMD; the hypervisor skips it and notifies the agent, whose
# recovery must bring chariot_demo's watch to STATE within RECOVERY_POLLS polls ($line: the watch at the end).
# Nothing is printed meanwhile: the recovery's console messages cannot split a W: line.
# A crash command's write must fail with EIO instead (its call aborted).
fault() {
    start=$(/bin/tsc)
    case $1 in
        null_read | wild_call | spin | null_strscpy | user_write | leak_timer | leak_driver | bug_call)
            if proc_write /proc/chariot_demo "$1"; then
                fail "demo $1: the write did not fail"
            else
                case $out in
                    *"I/O error"* | *"Input/output error"*) say "W: demo $1 aborted with EIO" ;;
                    *) fail "demo $1: $out" ;;
                esac
            fi
            ;;
        *) proc_write /proc/chariot_demo "$1" || fail "demo $1: $out" ;;
    esac
    polls=0
    demo_watch
    while [ "$polls" -lt "$RECOVERY_POLLS" ]; do
        case " $line " in
            *" state=$2 "*) break ;;
        esac
        usleep 100000
        polls=$((polls + 1))
        demo_watch
    done
    say "T: recover fault=$1 state=$2 polls=$polls tsc_delta=$(($(/bin/tsc) - start))"
    case " $line " in
        *" state=$2 "*) return 0 ;;
    esac
    fail "demo $1: no state=$2 after $RECOVERY_POLLS polls: $line"
    return 1
}

# expect_watch FIELD...: chariot_demo's watch ($line) has every FIELD (key=value)
expect_watch() {
    for field in "$@"; do
        case " $line " in
            *" $field "*) ;;
            *) fail "expected $field in: $line" ;;
        esac
    done
}

demo_loaded() {
    grep -q '^chariot_demo ' /proc/modules
}

if [ "$scenario" = recover ] && [ "$agent" = yes ] && [ "$demo" = yes ]; then
    demo_watch
    say "W: chariot $line"
    expect_watch state=running faults=0 recoveries=0 on_load=1 reload=1 recover=1
    for bad in "isolate-on-load chariot_demo enforce" "isolate-on-load chariot_victim enforce" \
        "isolate-on-load chariot_demo audit reload=1" "isolate chariot_demo enforce reload=1 recover=0"; do
        if proc_write /proc/chariot "$bad"; then
            fail "the agent accepted '$bad'"
        else
            say "W: refused '$bad'"
        fi
    done
    # isolated from load: what its init and probe allocated is its own
    run_demo legal yes
    run_demo load_state yes
    # a fault while the demo is in use: recovery cannot unload it and says why; the demo stays isolated
    run_demo pin yes
    if fault wild failed; then
        say "W: demo wild skipped victim $(cat /proc/chariot_victim)"
        grep -q 'page_sum=0x5a000 ' /proc/chariot_victim || fail "the wild write took effect"
        say "W: chariot $line"
        expect_watch domain=1 faults=1 recoveries=0 reason=in-use,refcount=1
        if demo_loaded; then
            say "W: chariot_demo still loaded"
        else
            fail "chariot_demo was unloaded although in use"
        fi
    fi
    run_demo unpin yes
    # the next fault: skipped, then the demo is unloaded, reloaded and isolated again
    if fault kernel_data recovered; then
        say "W: demo kernel_data skipped hostname=$(uname -n)"
        [ "$(uname -n)" = "(none)" ] || fail "the kernel_data write took effect: hostname=$(uname -n)"
        say "W: chariot $line"
        expect_watch faults=2 recoveries=1
        case $line in domain=none*) fail "recovered but not isolated: $line" ;; esac
        if demo_loaded; then
            say "W: chariot_demo reloaded"
            run_demo legal yes
            run_demo load_state yes
        else
            fail "state=recovered but chariot_demo is not loaded"
        fi
        # second fault after the reload: persistent, unloaded and not reloaded
        if fault other_module persistent; then
            say "W: demo other_module skipped victim $(cat /proc/chariot_victim)"
            grep -q 'value=0x1111222233334444 ' /proc/chariot_victim || fail "the other_module write took effect"
            say "W: chariot $line"
            expect_watch domain=none faults=3 recoveries=1
            if demo_loaded; then
                fail "chariot_demo was reloaded after a persistent fault"
            else
                say "W: chariot_demo not reloaded"
            fi
        fi
    fi
    if proc_write /proc/chariot "release chariot_demo"; then
        say "W: release chariot_demo ok"
    else
        fail "release chariot_demo: $out"
    fi
    [ -z "$(cat /proc/chariot)" ] || fail "a watch is left after release: $(cat /proc/chariot)"
fi

# rearm_demo WHAT: the demo released, armed and loaded again (a fresh watch) before WHAT
rearm_demo() {
    proc_write /proc/chariot "release chariot_demo" || fail "release chariot_demo: $out"
    if ! proc_write /proc/chariot "isolate-on-load chariot_demo enforce reload=1" ||
        ! out=$(insmod "$MODDIR/chariot_demo.ko" 2>&1); then
        fail "isolate-on-load and insmod chariot_demo before $1: $out"
        return 1
    fi
}

# runs_without_failure CMD CHANGED: the demo runs CMD (run_demo), and a second later, when a failure report would
# have been taken, its watch still shows it running with no fault and no failure
runs_without_failure() {
    run_demo "$1" "$2"
    sleep 1
    demo_watch
    say "W: chariot $line"
    expect_watch state=running faults=0 failures=0
}

# crash_round FIRST SECOND: the demo rearmed; fault FIRST must end in a recovery, SECOND (after that reload) as
# persistent
crash_round() {
    rearm_demo "$1" || return
    fault "$1" recovered || return
    say "W: chariot $line"
    expect_watch faults=1 recoveries=1
    run_demo legal yes
    fault "$2" persistent || return
    say "W: chariot $line"
    expect_watch domain=none faults=2 recoveries=1
}

if [ "$scenario" = crash ] && [ "$agent" = yes ] && [ "$demo" = yes ]; then
    run_demo legal yes
    run_demo lock_hold yes # kept across calls: recovery must release it before the exit function takes it
    if fault null_read recovered; then
        say "W: chariot $line"
        expect_watch faults=1 recoveries=1
        if demo_loaded; then
            say "W: chariot_demo reloaded"
            run_demo legal yes
            if fault spin persistent; then
                say "W: chariot $line"
                expect_watch domain=none faults=2 recoveries=1
                demo_loaded && fail "chariot_demo was reloaded after a persistent fault"
            fi
        else
            fail "state=recovered but chariot_demo is not loaded"
        fi
    fi
    # a new watch, a new load: a call through a wild pointer, then into strscpy
    crash_round wild_call null_strscpy
    # a kernel thread's function faults (the thread waits to be stopped by the demo's exit function), then a store
    # into user memory
    crash_round thread_null user_write
    # the aborted calls left interrupts on and the shell's task schedulable, and released the locks they held
    # (wild_call's rtnl_lock, which `ip link` takes)
    say "W: after the faults hostname=$(uname -n) loopback=$(ip link show lo >/dev/null 2>&1 && echo listed)"
    if proc_write /proc/chariot "release chariot_demo"; then
        say "W: release chariot_demo ok"
    else
        fail "release chariot_demo: $out"
    fi
fi

if [ "$isolated" = yes ]; then
    line=$(cat /proc/chariot)
    say "W: chariot $line"
    violations=$(echo "$line" | sed -n 's/.* violations=\([0-9]*\).*/\1/p')
    if [ -z "$violations" ] || [ "$violations" -lt "$ILLEGAL_STORES" ]; then
        fail "violations=${violations:-?}: the demo made $ILLEGAL_STORES illegal stores"
    fi
    if proc_write /proc/chariot "release chariot_demo"; then
        say "W: release chariot_demo ok"
    else
        fail "release chariot_demo: $out"
    fi
    [ -z "$(cat /proc/chariot)" ] || fail "a domain is left after release: $(cat /proc/chariot)"
fi

# Unloading: an isolated module that unloads takes its domain with it (the agent's module notifier), and unloading
# the agent releases the domains left (here chariot_victim's; the hypervisor logs both destructions).
unload() {
    if out=$(rmmod "$1" 2>&1); then
        say "W: rmmod $1 ok"
    else
        fail "rmmod $1: $out"
    fi
}

if [ "$scenario" = leak ] && [ "$agent" = yes ] && [ "$demo" = yes ]; then
    run_demo legal yes
    if fault leak_timer recovered; then
        say "W: chariot $line"
        expect_watch faults=1 recoveries=1
        sleep 3 # the leaked timer and delayed work were due 2 s after the command
        irqs=$(grep -c chariot_demo /proc/interrupts)
        say "W: after the expiry demo_irq_handlers=$irqs"
        [ "$irqs" -eq 0 ] || fail "an IRQ handler of the unloaded demo is left: $(grep chariot_demo /proc/interrupts)"
        if demo_loaded; then
            say "W: chariot_demo reloaded"
            run_demo legal yes
            unload chariot_demo # isolated, healthy: its exit function released everything
            # still armed: isolated at load again; a fault after the reload is persistent
            if out=$(insmod "$MODDIR/chariot_demo.ko" 2>&1) && fault leak_driver persistent; then
                # its PCI driver, net_device, device, ports and thread (comm: 15 characters)
                registered=$({ ls /sys/bus/pci/drivers /sys/class/net /sys/devices
                    sed -n 's/.* : //p' /proc/ioports
                    cat /proc/[0-9]*/comm 2>/dev/null; } | grep -c '^chariot_demo\|^demo')
                say "W: after leak_driver registered=$registered"
                [ "$registered" -eq 0 ] || fail "the unloaded demo left $registered things registered"
            else
                fail "insmod chariot_demo and leak_driver: $out"
            fi
        else
            fail "state=recovered but chariot_demo is not loaded"
        fi
    fi
    # failed probes, which the kernel reports (nothing written, nothing faulted): rearmed, the demo declines one of
    # two devices it serves (no failure), then its probe fails (recovered), then, reloaded, it declines its only
    # device (persistent)
    if rearm_demo probe_decline_one; then
        runs_without_failure probe_decline_one no
        if fault probe_fail recovered; then
            say "W: chariot $line"
            expect_watch faults=1 recoveries=1 failures=1
            if demo_loaded && fault probe_decline persistent; then
                say "W: chariot $line"
                expect_watch faults=2 recoveries=1 failures=2
            fi
        fi
        ! demo_loaded || fail "chariot_demo is still loaded after its persistent failure"
    fi
    # a BUG() in kernel code the demo called with bad arguments: the hypervisor ends the demo's call (EIO) instead
    # of the oops, and the agent recovers it; reloaded, it works and unloads
    if rearm_demo bug_call && fault bug_call recovered; then
        say "W: chariot $line"
        expect_watch faults=1 recoveries=1 failures=0
        run_demo legal yes
        # its NAPI poll faults (softirq): aborted and completed, so that the exit function's napi_disable returns
        if fault napi_null persistent; then
            say "W: chariot $line"
            expect_watch faults=2 recoveries=1
        fi
    fi
    # a probe that succeeds without giving the kernel the interface it gave the same device before (the kernel's
    # own view: no child device): rearmed, the demo's probe gives device 3 its interface; unloaded, rearmed and
    # loaded again, its probe of device 3 returns early: the agent recovers it
    if rearm_demo probe_interface; then
        runs_without_failure probe_interface yes
        unload chariot_demo
        if rearm_demo probe_empty && fault probe_empty recovered; then
            say "W: chariot $line"
            expect_watch faults=1 recoveries=1 failures=1
            unload chariot_demo
        fi
    fi
    if proc_write /proc/chariot "release chariot_demo"; then
        say "W: release chariot_demo ok"
    else
        fail "release chariot_demo: $out"
    fi
fi

if [ "$isolated" = yes ]; then
    proc_write /proc/chariot "isolate chariot_demo $scenario" || fail "isolate chariot_demo again: $out"
    unload chariot_demo
    [ -z "$(cat /proc/chariot)" ] || fail "chariot_demo unloaded, its domain stayed: $(cat /proc/chariot)"
    proc_write /proc/chariot "isolate chariot_victim $scenario" || fail "isolate chariot_victim: $out"
    unload chariot_agent
    unload chariot_victim
else
    if [ "$demo" = yes ]; then
        demo_loaded && unload chariot_demo
        unload chariot_victim
    fi
    if [ "$agent" = yes ]; then
        out=$(rmmod chariot_agent 2>&1) || fail "rmmod chariot_agent: $out"
    fi
fi
dmesg | grep 'chariot_agent:\|CHARIOT:' | sed 's/^/I: /'

result=PASS
[ "$fails" -eq 0 ] || result=FAIL
say "W: WORKLOAD-END result=$result fails=$fails scenario=$scenario"
