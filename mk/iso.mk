# Bootable GRUB ISOs (tools/mkiso.py): the hypervisor with the test guest, and with Linux (mk/guest.mk).
MKISO := $(PYTHON) tools/mkiso.py
HV_CMDLINE_TEST ?= log=com2 loglevel=debug guest=testguest

$(BUILD)/hv-test.iso: $(BUILD)/hv.elf $(BUILD)/testguest.bin tools/mkiso.py
	$(MKISO) --out $@ --hv $(BUILD)/hv.elf --cmdline "$(HV_CMDLINE_TEST)" --module $(BUILD)/testguest.bin:testguest
