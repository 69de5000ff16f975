# Debian packages the project needs, and the targets that install them.
DEB_PACKAGES := gcc make binutils python3 python3-pytest libcmocka-dev \
                bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools \
                linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio kmod xz-utils lz4 busybox-static \
                python3-matplotlib

MISSING_PACKAGES = $(shell dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PACKAGES) 2>/dev/null | \
                     awk '$$NF=="installed"{print $$1}' | sort | comm -13 - $$(printf '%s\n' $(DEB_PACKAGES) | sort > $(BUILD)/.want; echo $(BUILD)/.want))

.PHONY: deps deps-check
deps:
	@mkdir -p $(BUILD)
	@missing="$(MISSING_PACKAGES)"; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: missing Debian packages: $$missing (run 'make deps' as root)"; exit 1; fi; \
	echo "deps: installing $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

# Cheap check run before building: install only when something is missing.
deps-check:
	@mkdir -p $(BUILD)
	@[ -z "$(strip $(MISSING_PACKAGES))" ] || $(MAKE) --no-print-directory deps
