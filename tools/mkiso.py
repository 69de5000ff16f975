#!/usr/bin/env python3
"""Build a GRUB (i386-pc) ISO that boots the hypervisor with multiboot2 modules, or a Linux kernel directly.

  mkiso.py --out hv.iso --hv build/hv.elf --cmdline "log=com2 -- console=ttyS0" --module build/x.bin:testguest
  mkiso.py --out bare.iso --linux bzImage --initrd initrd.gz --cmdline "console=ttyS0"

GRUB's own output is kept off the serial ports so the logs hold only what the hypervisor and guest print.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def grub_cfg(args, files):
    lines = ["set timeout=0", "set default=0", "menuentry chariot {"]
    if args.hv:
        lines.append(f"  multiboot2 /boot/{files[args.hv]} {args.cmdline}".rstrip())
        for path, name in args.module:
            lines.append(f"  module2 /boot/{files[path]} {name}".rstrip())
    else:
        lines.append(f"  linux /boot/{files[args.linux]} {args.cmdline}".rstrip())
        if args.initrd:
            lines.append(f"  initrd /boot/{files[args.initrd]}")
    lines += ["  boot", "}"]
    return "\n".join(lines) + "\n"


def module_arg(text):
    path, _, name = text.partition(":")
    if not path or not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"module file not found: {path!r}")
    return path, name


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--hv", help="hypervisor ELF (multiboot2)")
    kind.add_argument("--linux", help="Linux bzImage booted without the hypervisor")
    p.add_argument("--initrd")
    p.add_argument("--cmdline", default="")
    p.add_argument("--module", type=module_arg, action="append", default=[], metavar="PATH:NAME",
                   help="multiboot2 module and its command line (the name the hypervisor looks for)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.out))) as root:
        boot = os.path.join(root, "boot")
        os.makedirs(os.path.join(boot, "grub"))
        sources = [x for x in [args.hv, args.linux, args.initrd] if x] + [path for path, _ in args.module]
        files = {}
        for i, src in enumerate(sources):
            files[src] = f"{i}-{os.path.basename(src)}"
            shutil.copyfile(src, os.path.join(boot, files[src]))
        with open(os.path.join(boot, "grub", "grub.cfg"), "w") as f:
            f.write(grub_cfg(args, files))
        r = subprocess.run(["grub-mkrescue", "-o", args.out, root], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
