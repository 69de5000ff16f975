# chariot-hv: a VT-x hypervisor that isolates faulty Linux drivers inside their VM.
# `make` builds build/hv.elf and the ISOs; `make run` boots Linux under it in Bochs; `make test` runs every test.

BUILD      := build
CC         := gcc
LD         := ld
OBJCOPY    := objcopy
PYTHON     := /usr/bin/python3
# Expensive artifacts (the guest kernel) live outside the clone, keyed by what they are built from.
CACHE_DIR  ?= $(HOME)/.cache/chariot-hv
export CACHE_DIR

HV_CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
              -mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
              -fno-strict-aliasing -I.
HV_LDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack -T linker.ld --no-warn-rwx-segments

HV_SRCS    := $(wildcard boot/*.S boot/*.c hv/*.S hv/*.c mmu/*.c isolation/*.c)
HV_OBJS    := $(patsubst %,$(BUILD)/obj/%.o,$(HV_SRCS))

UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined -fno-sanitize-recover=all \
               -DHV_HOST_TEST
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps unit test integration run run-linux run-test-guest run-qemu bench clean

RUN_TIMEOUT ?= 600
RUN_ARGS    ?=
RUN_DIR     := $(BUILD)/run

all: $(BUILD)/hv.elf $(BUILD)/hv-test.iso

include mk/deps.mk
include mk/testguest.mk
include mk/guest.mk
include mk/testmods.mk
include mk/agent.mk
include mk/campaign.mk
include mk/iso.mk
-include $(HV_OBJS:.o=.d)

$(BUILD)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HV_CFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(HV_CFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(BUILD)/hv.elf: $(HV_OBJS) linker.ld
	$(LD) $(HV_LDFLAGS) -o $@ $(HV_OBJS)
	grub-file --is-x86-multiboot2 $@

# Host unit tests: each tests/unit/test_X.c includes the sources it tests and links against cmocka.
$(BUILD)/unit/%: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -MMD -MP -MF $@.d $< -lcmocka -o $@
-include $(UNIT_BINS:=.d)

unit: deps-check $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

INTEGRATION_INPUTS := all $(HV_LINUX_ISO) $(LINUX_BARE_ISO) $(GUEST_ATA_IMG) $(GUEST_USB_IMG) testmods \
                      $(ISOLATION_INITRAMFS)
integration: deps-check
	@$(MAKE) --no-print-directory $(INTEGRATION_INPUTS)
	$(PYTHON) -m pytest -q tests/integration

# Installing packages first, then a fresh make: the guest-kernel variables depend on what is installed.
test: deps-check
	@$(MAKE) --no-print-directory unit integration

# Linux under the hypervisor in Bochs, with the basic workload, on copies of the data disks.
run: deps-check
	@$(MAKE) --no-print-directory run-linux

run-linux: $(HV_LINUX_ISO) $(GUEST_ATA_IMG) $(GUEST_USB_IMG)
	@mkdir -p $(RUN_DIR) && cp $(GUEST_ATA_IMG) $(GUEST_USB_IMG) $(RUN_DIR)/
	$(PYTHON) tools/bochs_run.py --iso $(HV_LINUX_ISO) --run-dir $(RUN_DIR) --timeout $(RUN_TIMEOUT) \
	    --ata-disk $(RUN_DIR)/ata.img --usb-disk $(RUN_DIR)/usb.img --e1000 --es1370 $(RUN_ARGS)
	@grep -aq '^W: WORKLOAD-END result=PASS' $(RUN_DIR)/com1.log || { echo "run: the guest workload did not pass"; exit 1; }

run-test-guest: deps-check $(BUILD)/hv.elf $(BUILD)/testguest.bin
	$(PYTHON) tools/mkiso.py --out $(BUILD)/hv-demo.iso --hv $(BUILD)/hv.elf \
	    --cmdline "log=com2 loglevel=info guest=testguest -- bench=1000 end=poweroff" \
	    --module $(BUILD)/testguest.bin:testguest
	$(PYTHON) tools/bochs_run.py --iso $(BUILD)/hv-demo.iso --run-dir $(BUILD)/run-test-guest --timeout 120 $(RUN_ARGS)

bench: deps-check
	@$(MAKE) --no-print-directory $(INTEGRATION_INPUTS)
	$(PYTHON) tools/bench.py --build $(BUILD)

# For machines with VT-x: QEMU with KVM and nested VMX runs the same ISO (untested here: no /dev/kvm).
QEMU_ISO ?= $(HV_LINUX_ISO)
run-qemu: $(QEMU_ISO)
	@test -e /dev/kvm || { echo "run-qemu: needs /dev/kvm and VT-x with nested VMX (kvm_intel nested=1)"; exit 1; }
	qemu-system-x86_64 -enable-kvm -cpu host,+vmx -m 1024 -machine pc -cdrom $(QEMU_ISO) -display none \
	    -serial file:$(BUILD)/qemu-com1.log -serial stdio -no-reboot

clean:
	rm -rf $(BUILD)
