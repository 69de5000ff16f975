# The guest agent (guest-agent/) and the isolation demo drivers (tests/demo-driver/), built out of tree against the
# guest kernel, and an initramfs that carries them as /lib/chariot/*.ko for the isolation workload
# (guest/workloads/isolation.sh). Included by the top-level Makefile after mk/guest.mk (it uses its variables).
#
#   make agent                 $(AGENT_KO), $(INJECT_KO), $(DEMO_KO) and $(ISOLATION_INITRAMFS)
#   $(AGENT_KO)                $(BUILD)/agent/chariot_agent.ko
#   $(INJECT_KO)               $(BUILD)/agent/chariot_inject.ko (the fault injector; same kbuild run)
#   $(DEMO_KO)                 $(BUILD)/agent/chariot_victim.ko $(BUILD)/agent/chariot_demo.ko
#   $(AGENT_EXTRA)             $(BUILD)/agent/extra/lib/chariot/*.ko: guest/build-initramfs.sh's EXTRA_DIR
#   $(ISOLATION_INITRAMFS)     $(BUILD)/guest/initramfs-isolation.cpio.gz: the guest initramfs + the above
#   make run-isolation-bare    boot it on bare Bochs (ISOLATION=none by default: nothing else works there)
#   make run-isolation         boot it under the hypervisor (ISOLATION=enforce by default, or audit, recover, crash,
#                              leak, none)
# The runs fail unless the workload ends with result=PASS; logs in $(BUILD)/runs/isolation-{bare,hv}-$(ISOLATION)/.
#
# 6.1's kbuild cannot put objects elsewhere than the sources (no MO=), so the sources are copied under
# $(BUILD)/agent/ and built there: guest-agent/ next to a copy of hv/'s ABI headers (the agent includes
# ../hv/hypercall_abi.h), and demo-driver/. A different guest kernel (LINUX_DIR changes with guest/linux.config)
# rebuilds everything.

BUILD         ?= build
PYTHON        ?= /usr/bin/python3
LINUX_DIR     ?= $(shell guest/build-linux.sh --print-path)
LINUX_BZIMAGE ?= $(LINUX_DIR)/bzImage

AGENT_BUILD         := $(BUILD)/agent
AGENT_SRCS          := guest-agent/Kbuild $(wildcard guest-agent/*.c guest-agent/*.h)
AGENT_ABI_HDRS      := hv/hypercall_abi.h hv/errno.h
DEMO_SRCS           := tests/demo-driver/Kbuild $(wildcard tests/demo-driver/*.c tests/demo-driver/*.h)
DEMO_NAMES          := chariot_victim chariot_demo
AGENT_KO            := $(AGENT_BUILD)/chariot_agent.ko
INJECT_KO           := $(AGENT_BUILD)/chariot_inject.ko
DEMO_KO             := $(patsubst %,$(AGENT_BUILD)/%.ko,$(DEMO_NAMES))
AGENT_EXTRA         := $(AGENT_BUILD)/extra
AGENT_EXTRA_STAMP   := $(AGENT_BUILD)/extra.stamp
ISOLATION_INITRAMFS := $(BUILD)/guest/initramfs-isolation.cpio.gz
AGENT_STAMP         := $(AGENT_BUILD)/kernel.stamp

.PHONY: agent agent-stamp-check run-isolation run-isolation-bare
agent: $(AGENT_KO) $(INJECT_KO) $(DEMO_KO) $(ISOLATION_INITRAMFS)

# The stamp holds the kernel the modules were built for: it changes (and they rebuild) when the kernel does.
agent-stamp-check:
	@mkdir -p $(AGENT_BUILD)
	@echo '$(LINUX_DIR)' | cmp -s - $(AGENT_STAMP) || echo '$(LINUX_DIR)' > $(AGENT_STAMP)
$(AGENT_STAMP): agent-stamp-check ;

# The recipes ask build-linux.sh for the tree again (see mk/guest.mk: `deps` may have installed the source since).
$(AGENT_KO) $(INJECT_KO) &: $(AGENT_SRCS) $(AGENT_ABI_HDRS) $(AGENT_STAMP) | $(LINUX_BZIMAGE)
	rm -rf $(AGENT_BUILD)/guest-agent $(AGENT_BUILD)/hv
	mkdir -p $(AGENT_BUILD)/guest-agent $(AGENT_BUILD)/hv
	cp $(AGENT_SRCS) $(AGENT_BUILD)/guest-agent/
	cp $(AGENT_ABI_HDRS) $(AGENT_BUILD)/hv/
	$(MAKE) -C "$$(guest/build-linux.sh --print-path)/src" M=$(abspath $(AGENT_BUILD)/guest-agent) modules
	cp $(AGENT_BUILD)/guest-agent/chariot_agent.ko $(AGENT_BUILD)/guest-agent/chariot_inject.ko $(AGENT_BUILD)/

# One kbuild run for both: chariot_demo links against chariot_victim's exports.
$(DEMO_KO) &: $(DEMO_SRCS) $(AGENT_STAMP) | $(LINUX_BZIMAGE)
	rm -rf $(AGENT_BUILD)/demo-driver
	mkdir -p $(AGENT_BUILD)/demo-driver
	cp $(DEMO_SRCS) $(AGENT_BUILD)/demo-driver/
	$(MAKE) -C "$$(guest/build-linux.sh --print-path)/src" M=$(abspath $(AGENT_BUILD)/demo-driver) modules
	cp $(patsubst %,$(AGENT_BUILD)/demo-driver/%.ko,$(DEMO_NAMES)) $(AGENT_BUILD)/

# The stamp stands for the directory (whose own timestamp says nothing) and stays outside it.
$(AGENT_EXTRA_STAMP): $(AGENT_KO) $(INJECT_KO) $(DEMO_KO)
	rm -rf $(AGENT_EXTRA)
	mkdir -p $(AGENT_EXTRA)/lib/chariot
	cp $(AGENT_KO) $(INJECT_KO) $(DEMO_KO) $(AGENT_EXTRA)/lib/chariot/
	touch $@

$(ISOLATION_INITRAMFS): $(AGENT_EXTRA_STAMP) $(GUEST_INITRAMFS_BASE) $(AGENT_STAMP) | $(LINUX_BZIMAGE)
	guest/build-initramfs.sh $@ $(AGENT_EXTRA)

# Boot runs. The ISO is made in the run directory (its kernel command line names the scenario).
ISOLATION_GUEST_CMDLINE = console=ttyS0,115200 workload=isolation isolation=$(ISOLATION)
ISOLATION_TIMEOUT ?= 600

run-isolation-bare: ISOLATION ?= none
run-isolation-bare: $(ISOLATION_INITRAMFS) | $(LINUX_BZIMAGE)
	@mkdir -p $(BUILD)/runs/isolation-bare-$(ISOLATION)
	$(PYTHON) tools/mkiso.py --out $(BUILD)/runs/isolation-bare-$(ISOLATION)/linux.iso \
	    --linux "$$(guest/build-linux.sh --print-path)/bzImage" --initrd $(ISOLATION_INITRAMFS) \
	    --cmdline "$(ISOLATION_GUEST_CMDLINE)"
	$(PYTHON) tools/bochs_run.py --iso $(BUILD)/runs/isolation-bare-$(ISOLATION)/linux.iso \
	    --run-dir $(BUILD)/runs/isolation-bare-$(ISOLATION) --timeout $(ISOLATION_TIMEOUT) --expect bochs-exit --quiet
	@grep -a '^[WI]: ' $(BUILD)/runs/isolation-bare-$(ISOLATION)/com1.log
	@grep -aq '^W: WORKLOAD-END result=PASS' $(BUILD)/runs/isolation-bare-$(ISOLATION)/com1.log

# Needs $(BUILD)/hv.elf from the top-level Makefile.
run-isolation: ISOLATION ?= enforce
run-isolation: $(BUILD)/hv.elf $(ISOLATION_INITRAMFS) | $(LINUX_BZIMAGE)
	@mkdir -p $(BUILD)/runs/isolation-hv-$(ISOLATION)
	$(PYTHON) tools/mkiso.py --out $(BUILD)/runs/isolation-hv-$(ISOLATION)/hv.iso --hv $(BUILD)/hv.elf \
	    --cmdline "log=com2 loglevel=info guest=linux -- $(ISOLATION_GUEST_CMDLINE)" \
	    --module "$$(guest/build-linux.sh --print-path)/bzImage:linux" --module $(ISOLATION_INITRAMFS):initrd
	$(PYTHON) tools/bochs_run.py --iso $(BUILD)/runs/isolation-hv-$(ISOLATION)/hv.iso \
	    --run-dir $(BUILD)/runs/isolation-hv-$(ISOLATION) --timeout $(ISOLATION_TIMEOUT) --quiet
	@grep -a '^[WI]: ' $(BUILD)/runs/isolation-hv-$(ISOLATION)/com1.log
	@grep -a 'ev=isolation\.' $(BUILD)/runs/isolation-hv-$(ISOLATION)/com2.log || true
	@grep -aq '^W: WORKLOAD-END result=PASS' $(BUILD)/runs/isolation-hv-$(ISOLATION)/com1.log
