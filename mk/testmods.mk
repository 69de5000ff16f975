# Test kernel modules (guest/testmods/*.c, one module a file) built out of tree against the guest kernel, and an
# initramfs that carries them as /lib/testmods/*.ko. Included by the top-level Makefile after mk/guest.mk (it uses
# its variables).
#
#   make testmods            $(TESTMODS_KOS) and $(TESTMODS_INITRAMFS)
#   $(TESTMODS_KOS)          $(BUILD)/testmods/<name>.ko
#   $(TESTMODS_INITRAMFS)    $(BUILD)/guest/initramfs-testmods.cpio.gz: the guest initramfs + lib/testmods/*.ko
#
# The sources are copied to $(BUILD)/testmods/src with a generated Kbuild, so kbuild's objects never land in the
# source tree. A different guest kernel (LINUX_DIR changes with guest/linux.config) rebuilds everything.

BUILD      ?= build
LINUX_DIR  ?= $(shell guest/build-linux.sh --print-path)
LINUX_TREE ?= $(LINUX_DIR)/src
LINUX_BZIMAGE ?= $(LINUX_DIR)/bzImage

TESTMODS_BUILD     := $(BUILD)/testmods
TESTMODS_SRCDIR    := $(TESTMODS_BUILD)/src
TESTMODS_EXTRA     := $(TESTMODS_BUILD)/initramfs
TESTMODS_SRCS      := $(wildcard guest/testmods/*.c)
TESTMODS_NAMES     := $(notdir $(TESTMODS_SRCS:.c=))
TESTMODS_KOS       := $(patsubst %,$(TESTMODS_BUILD)/%.ko,$(TESTMODS_NAMES))
TESTMODS_INITRAMFS := $(BUILD)/guest/initramfs-testmods.cpio.gz
TESTMODS_STAMP     := $(TESTMODS_BUILD)/kernel.stamp

.PHONY: testmods testmods-stamp-check
testmods: $(TESTMODS_KOS) $(TESTMODS_INITRAMFS)

# The stamp holds the kernel the modules were built for: it changes (and they rebuild) when the kernel does.
testmods-stamp-check:
	@mkdir -p $(TESTMODS_BUILD)
	@echo '$(LINUX_DIR)' | cmp -s - $(TESTMODS_STAMP) || echo '$(LINUX_DIR)' > $(TESTMODS_STAMP)
$(TESTMODS_STAMP): testmods-stamp-check ;

# One kbuild run builds every module; the recipe asks build-linux.sh for the tree again (see mk/guest.mk).
$(TESTMODS_KOS) &: $(TESTMODS_SRCS) $(TESTMODS_STAMP) | $(LINUX_BZIMAGE)
	rm -rf $(TESTMODS_SRCDIR)
	mkdir -p $(TESTMODS_SRCDIR)
	cp $(TESTMODS_SRCS) $(TESTMODS_SRCDIR)/
	echo 'obj-m := $(TESTMODS_NAMES:=.o)' > $(TESTMODS_SRCDIR)/Kbuild
	$(MAKE) -C "$$(guest/build-linux.sh --print-path)/src" M=$(abspath $(TESTMODS_SRCDIR)) modules
	cp $(patsubst %,$(TESTMODS_SRCDIR)/%.ko,$(TESTMODS_NAMES)) $(TESTMODS_BUILD)/

$(TESTMODS_INITRAMFS): $(TESTMODS_KOS) $(GUEST_INITRAMFS_BASE) | $(LINUX_BZIMAGE)
	rm -rf $(TESTMODS_EXTRA)
	mkdir -p $(TESTMODS_EXTRA)/lib/testmods
	cp $(TESTMODS_KOS) $(TESTMODS_EXTRA)/lib/testmods/
	guest/build-initramfs.sh $@ $(TESTMODS_EXTRA)
