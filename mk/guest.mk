# The Linux guest image: kernel + modules (cached outside the clone by guest/build-linux.sh), the initramfs,
# the two data disks, and the bare reference ISO (GRUB boots the kernel directly, WITHOUT the hypervisor).
#
#   make guest-kernel        build the kernel if the cache has no entry for guest/linux.config + source version
#   make guest               everything below
#   $(GUEST_INITRAMFS)       build/guest/initramfs.cpio.gz (GUEST_INITRAMFS_EXTRA=<dir> adds that directory's files)
#   $(GUEST_ATA_IMG) $(GUEST_USB_IMG)   8 MiB zero-filled disks for the ATA and the USB mass-storage device
#   $(LINUX_BARE_ISO)        build/linux-bare.iso (kernel command line: GUEST_CMDLINE)
#   make run-bare            boot it in Bochs (tools/bochs_run.py) and check that the basic workload passed
# For other makefiles: LINUX_DIR (cache entry), LINUX_BZIMAGE, LINUX_TREE (configured tree for out-of-tree
# modules: make -C $(LINUX_TREE) M=<dir> modules), LINUX_MODROOT, LINUX_RELEASE_FILE. They are computed cheaply
# (a hash of the inputs), without building anything.

GUEST_BUILD     := $(BUILD)/guest
LINUX_DIR       := $(shell guest/build-linux.sh --print-path)
LINUX_BZIMAGE   := $(LINUX_DIR)/bzImage
LINUX_TREE      := $(LINUX_DIR)/src
LINUX_MODROOT   := $(LINUX_DIR)/modroot
LINUX_RELEASE_FILE := $(LINUX_DIR)/kernel.release
GUEST_INITRAMFS := $(GUEST_BUILD)/initramfs.cpio.gz
GUEST_ATA_IMG   := $(GUEST_BUILD)/ata.img
GUEST_USB_IMG   := $(GUEST_BUILD)/usb.img
GUEST_DISK_MB   := 8
LINUX_BARE_ISO  := $(BUILD)/linux-bare.iso
GUEST_CMDLINE   ?= console=ttyS0,115200 workload=basic
GUEST_INITRAMFS_EXTRA ?=

# What every initramfs is made of (mk/agent.mk and mk/testmods.mk add their own extra directories).
GUEST_INITRAMFS_BASE := guest/build-initramfs.sh guest/init guest/nolibc.h guest/poweroff.c guest/tsc.c \
                        guest/pattern.h guest/pattern.c guest/playback.c guest/workload-lib.sh \
                        $(wildcard guest/workloads/*.sh)
GUEST_INITRAMFS_INPUTS := $(GUEST_INITRAMFS_BASE) \
                          $(if $(GUEST_INITRAMFS_EXTRA),$(shell find $(GUEST_INITRAMFS_EXTRA) -type f 2>/dev/null))

# Which kernel, extra directory and command line the outputs were built with: the stamp changes (and the
# initramfs and ISO rebuild) exactly when one of them changes, whatever the files' timestamps say.
GUEST_STAMP      := $(GUEST_BUILD)/inputs.stamp
GUEST_STAMP_TEXT := linux=$(LINUX_DIR) extra=$(GUEST_INITRAMFS_EXTRA) cmdline=$(GUEST_CMDLINE)

.PHONY: guest guest-kernel guest-stamp-check
guest: $(LINUX_BARE_ISO) $(GUEST_ATA_IMG) $(GUEST_USB_IMG)

# The cache path is a hash of guest/linux.config, guest/build-linux.sh and the source package version,
# so an existing bzImage is always current: no other prerequisites, and a cached kernel costs nothing.
guest-kernel: $(LINUX_BZIMAGE)
$(LINUX_BZIMAGE):
	guest/build-linux.sh

guest-stamp-check:
	@mkdir -p $(GUEST_BUILD)
	@echo '$(GUEST_STAMP_TEXT)' | cmp -s - $(GUEST_STAMP) || echo '$(GUEST_STAMP_TEXT)' > $(GUEST_STAMP)
$(GUEST_STAMP): guest-stamp-check ;

# The recipes ask build-linux.sh for the kernel again rather than use $(LINUX_DIR): it was computed when make
# started, possibly before `deps` installed linux-source-6.1.
$(GUEST_INITRAMFS): $(GUEST_INITRAMFS_INPUTS) $(GUEST_STAMP) | $(LINUX_BZIMAGE)
	guest/build-initramfs.sh $@ $(GUEST_INITRAMFS_EXTRA)

$(GUEST_BUILD)/%.img:
	@mkdir -p $(@D)
	dd if=/dev/zero of=$@.tmp bs=1M count=$(GUEST_DISK_MB) status=none && mv $@.tmp $@

# GRUB (i386-pc, tools/mkiso.py) boots bzImage directly: timeout 0 and no serial terminal, so COM1/COM2 carry only
# the guest's output.
$(LINUX_BARE_ISO): $(GUEST_INITRAMFS) $(GUEST_STAMP) tools/mkiso.py | $(LINUX_BZIMAGE)
	$(PYTHON) tools/mkiso.py --out $@ --linux "$$(guest/build-linux.sh --print-path)/bzImage" \
	  --initrd $(GUEST_INITRAMFS) --cmdline "$(GUEST_CMDLINE)"

# Boot the bare reference ISO in Bochs with every device the basic workload uses (on copies of the disks) and
# check that the workload passed: `make run-bare`; logs in $(BUILD)/runs/bare/ (com1.log is the guest console).
GUEST_RUN_DIR := $(BUILD)/runs/bare
.PHONY: run-bare
run-bare: $(LINUX_BARE_ISO) $(GUEST_ATA_IMG) $(GUEST_USB_IMG)
	@mkdir -p $(GUEST_RUN_DIR)
	cp $(GUEST_ATA_IMG) $(GUEST_USB_IMG) $(GUEST_RUN_DIR)/
	$(PYTHON) tools/bochs_run.py --iso $(LINUX_BARE_ISO) --run-dir $(GUEST_RUN_DIR) --timeout 300 \
	  --ata-disk $(GUEST_RUN_DIR)/ata.img --usb-disk $(GUEST_RUN_DIR)/usb.img --e1000 --es1370 --expect bochs-exit --quiet
	@grep -a '^W: WORKLOAD-END' $(GUEST_RUN_DIR)/com1.log || { echo "run-bare: no WORKLOAD-END"; exit 1; }
	@grep -aq '^W: WORKLOAD-END result=PASS' $(GUEST_RUN_DIR)/com1.log
