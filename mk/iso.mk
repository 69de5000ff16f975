# Bootable GRUB ISOs: the hypervisor with the test guest, and (once the guest image exists) with Linux.
HV_CMDLINE_TEST ?= log=com2 loglevel=debug guest=testguest

define make_iso # $(1)=iso, $(2)=grub.cfg text, $(3)=files "src:dst ..."
	rm -rf $(1).d && mkdir -p $(1).d/boot/grub
	printf '%b' $(2) > $(1).d/boot/grub/grub.cfg
	for f in $(3); do cp "$${f%%:*}" "$(1).d/$${f##*:}"; done
	grub-mkrescue -o $(1) $(1).d >$(1).log 2>&1 || (cat $(1).log; false)
endef

$(BUILD)/hv-test.iso: $(BUILD)/hv.elf $(BUILD)/testguest.bin mk/iso.mk
	$(call make_iso,$@,"set timeout=0\nset default=0\nmenuentry chariot-hv-test {\n  multiboot2 /boot/hv.elf $(HV_CMDLINE_TEST)\n  module2 /boot/testguest.bin testguest\n  boot\n}\n",$(BUILD)/hv.elf:boot/hv.elf $(BUILD)/testguest.bin:boot/testguest.bin)
