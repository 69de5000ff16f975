# Bootable GRUB ISOs (tools/mkiso.py): the hypervisor with the test guest, and with Linux (mk/guest.mk).
MKISO := $(PYTHON) tools/mkiso.py
HV_CMDLINE_TEST ?= log=com2 loglevel=debug guest=testguest

$(BUILD)/hv-test.iso: $(BUILD)/hv.elf $(BUILD)/testguest.bin tools/mkiso.py
	$(MKISO) --out $@ --hv $(BUILD)/hv.elf --cmdline "$(HV_CMDLINE_TEST)" --module $(BUILD)/testguest.bin:testguest

# Linux under the hypervisor: the guest command line follows "--".
HV_LINUX_ISO     := $(BUILD)/hv-linux.iso
HV_CMDLINE_LINUX ?= log=com2 loglevel=info guest=linux -- $(GUEST_CMDLINE)

$(HV_LINUX_ISO): $(BUILD)/hv.elf $(GUEST_INITRAMFS) $(GUEST_STAMP) tools/mkiso.py | $(LINUX_BZIMAGE)
	$(MKISO) --out $@ --hv $(BUILD)/hv.elf --cmdline "$(HV_CMDLINE_LINUX)" \
	    --module "$$(guest/build-linux.sh --print-path)/bzImage:linux" --module $(GUEST_INITRAMFS):initrd
