# The small 64-bit test guest for the foundation tests: a flat binary, loaded by the hypervisor at its link address.
TESTGUEST_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
                    -mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-asynchronous-unwind-tables -I.
TESTGUEST_SRCS := $(wildcard tests/guest/*.c tests/guest/*.S)
TESTGUEST_OBJS := $(patsubst %,$(BUILD)/testguest/%.o,$(TESTGUEST_SRCS))

$(BUILD)/testguest/%.o: %
	@mkdir -p $(dir $@)
	$(CC) $(TESTGUEST_CFLAGS) -MMD -MP -c $< -o $@
-include $(TESTGUEST_OBJS:.o=.d)

$(BUILD)/testguest.elf: $(TESTGUEST_OBJS) tests/guest/testguest.ld
	$(LD) -nostdlib -z noexecstack -T tests/guest/testguest.ld --no-warn-rwx-segments -o $@ $(TESTGUEST_OBJS)

$(BUILD)/testguest.bin: $(BUILD)/testguest.elf
	$(OBJCOPY) -O binary $< $@
