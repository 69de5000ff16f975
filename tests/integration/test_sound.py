"""Audio through snd-ens1370 arrives intact under the hypervisor (workload=sound): the guest plays 64 KiB of the seeded
pattern (guest/pattern.h, seed 3) as S16_LE stereo at 44100 Hz through the raw ALSA PCM ioctls (guest/playback.c),
and Bochs records what the ES1370's DMA fetched and played (tools/bochs_run.py --es1370: RUN_DIR/es1370.wav).

What is checked, the host recomputing the pattern:
- the guest: every frame written and drained, one card interrupt per period, and the md5 of the pattern it played
  is the host's; the same W: lines as the same image on bare Bochs;
- the wave file: a 44-byte PCM WAV header (2 channels, 16 bits, 44100 Hz, sizes matching the file), then the pattern
  byte for byte, with nothing added but what Bochs 2.7 provably adds. Its mixer thread writes packets of 0.1 s
  (17640 bytes) and fills a packet up with zeros when no more audio is queued, which can only happen between two of
  the card's DMA transfers: Bochs' ES1370 fetches at most up to the next period end (4096 bytes) per transfer, and
  each transfer is queued whole. Nothing else changes a sample: 44100 Hz in and out (no resampling), and at the full
  codec volume the guest sets Bochs leaves samples unchanged (its 16-bit -> float -> 16-bit conversion is exact).
"""
import hashlib
import os
import re
import struct
import subprocess

import pytest

from bochs_run import ES1370_WAVE
from conftest import BUILD, ROOT, RUNS, boot, hvlog, make_iso
from test_isolation import bzimage

INITRAMFS = os.path.join(BUILD, "guest", "initramfs.cpio.gz")
GUEST_CMDLINE = "console=ttyS0,115200 workload=sound"
SEED, BYTES = 3, 65536  # guest/workloads/sound.sh
RATE, FRAME_BYTES = 44100, 4
MIXER_PACKET = RATE * FRAME_BYTES // 10  # Bochs' mixer writes 0.1 s at a time
PLAYED = re.compile(r"^W: sound played frames=(\d+) bytes=(\d+) rate=(\d+) channels=2 period=(\d+) buffer=(\d+)$",
                    re.M)


def pattern(seed, size):
    """guest/pattern.h: xorshift64*, one little-endian 64-bit word at a time."""
    mask = (1 << 64) - 1
    state = (seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & mask
    words = []
    for _ in range((size + 7) // 8):
        state ^= state >> 12
        state ^= (state << 25) & mask
        state ^= state >> 27
        words.append((state * 0x2545F4914F6CDD1D) & mask)
    return struct.pack(f"<{len(words)}Q", *words)[:size]


def wave_payload(data):
    """The samples of a 16-bit stereo 44100 Hz PCM WAV file as Bochs writes it (one 44-byte header)."""
    assert len(data) >= 44, f"{len(data)} bytes: no WAV header"
    (riff, riff_size, wave, fmt, fmt_size, audio_format, channels, rate, byte_rate, block_align, bits, data_id,
     data_size) = struct.unpack("<4sI4s4sIHHIIHH4sI", data[:44])
    assert (riff, wave, fmt, data_id) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert (fmt_size, audio_format, channels, rate, byte_rate, block_align, bits) == \
        (16, 1, 2, RATE, RATE * FRAME_BYTES, FRAME_BYTES, 16)
    assert (riff_size, data_size) == (len(data) - 8, len(data) - 44), "sizes not finalized: Bochs did not close it"
    return data[44:]


def common_prefix(a, b):
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def check_mixer_stream(payload, expected, period):
    """Asserts that `payload` is `expected` cut into mixer packets, where a packet may stop short at a period boundary
    (or the end) and is then filled up with zeros."""
    # A zero at a period start would make zero filling and pattern indistinguishable there; the pattern has none.
    assert all(expected[i] for i in range(0, len(expected), period))
    assert len(payload) % MIXER_PACKET == 0, f"{len(payload)} bytes is not whole mixer packets"
    pos = 0
    for n in range(len(payload) // MIXER_PACKET):
        packet = payload[n * MIXER_PACKET:(n + 1) * MIXER_PACKET]
        same = common_prefix(packet, expected[pos:])
        assert same, f"packet {n} does not continue the pattern at byte {pos} of {len(expected)}"
        if same < MIXER_PACKET:
            assert (pos + same) % period == 0 or pos + same == len(expected), \
                f"packet {n} differs from the pattern at byte {pos + same}, inside a period"
            assert packet[same:] == bytes(MIXER_PACKET - same), \
                f"packet {n}: pattern bytes {pos}..{pos + same}, then not zero filling"
        pos += same
    assert pos == len(expected), f"only {pos} of {len(expected)} bytes are in the recording"


def sound_boot(hv):
    assert os.path.isfile(INITRAMFS), "build/guest/initramfs.cpio.gz missing: run the tests through `make test`"
    if hv:
        iso = make_iso("sound-hv", f"log=com2 loglevel=info guest=linux -- {GUEST_CMDLINE}",
                       [(bzimage(), "linux"), (INITRAMFS, "initrd")])
        return boot(iso, "sound-hv", timeout=400, es1370=True)
    iso = os.path.join(RUNS, "sound-bare.iso")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "mkiso.py"), "--out", iso, "--linux", bzimage(),
                    "--initrd", INITRAMFS, "--cmdline", GUEST_CMDLINE], check=True)
    return boot(iso, "sound-bare", timeout=400, es1370=True, expect="bochs-exit")


@pytest.fixture(scope="module")
def runs():
    return {"hv": sound_boot(hv=True), "bare": sound_boot(hv=False)}


def w_lines(log):
    return [l for l in log.splitlines() if l.startswith("W: ")]


def test_guest_played_the_whole_pattern_under_the_hypervisor(runs):
    log = runs["hv"].guest_log
    assert f"W: WORKLOAD-END result=PASS fails=0 played={BYTES}" in w_lines(log), log[-3000:]
    assert f"W: sound pattern seed={SEED} bytes={BYTES} md5={hashlib.md5(pattern(SEED, BYTES)).hexdigest()}" in log
    frames, played, rate, period, buffer = (int(x) for x in PLAYED.search(log).groups())
    assert (frames, played, rate) == (BYTES // FRAME_BYTES, BYTES, RATE) and buffer % period == 0
    assert f"W: sound card interrupts={frames // period}" in w_lines(log)
    assert re.search(r"^T: sound playback tsc=\d+$", log, re.M)


BOCHS_FIRST_INTERRUPT_MS = 100  # Bochs' ES1370: the first period interrupt comes one 0.1-s DAC timer packet after start


def test_playback_buffer_outlasts_the_cards_first_interrupt(runs):
    """ALSA fails a blocked write with EIO after 1.1 buffer times with no period interrupt (sound/core/pcm_lib.c,
    at least 100 ms, in jiffies of 10 ms). With a buffer that times out near Bochs' 100-ms first interrupt, about one
    playback in 15-25 under the hypervisor ended with EIO after one interrupt: the guest must have twice that."""
    _, _, rate, _, buffer = (int(x) for x in PLAYED.search(runs["hv"].guest_log).groups())
    assert buffer * 1100 // rate >= 2 * BOCHS_FIRST_INTERRUPT_MS


def test_same_deterministic_output_as_bare_bochs(runs):
    assert w_lines(runs["hv"].guest_log) == w_lines(runs["bare"].guest_log)


@pytest.mark.parametrize("where", ["hv", "bare"])
def test_card_played_exactly_the_pattern(runs, where):
    run = runs[where]
    period = int(PLAYED.search(run.guest_log).group(4)) * FRAME_BYTES
    with open(os.path.join(run.run_dir, ES1370_WAVE), "rb") as f:
        check_mixer_stream(wave_payload(f.read()), pattern(SEED, BYTES), period)


def test_clean_shutdown(runs):
    r = runs["hv"]
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest powered off"
    assert not [x for x in r.records if x["lvl"] in ("fatal", "error")]
    assert "Oops" not in r.guest_log and "Kernel panic" not in r.guest_log


def test_mixer_check_rejects_damaged_audio():
    """The wave check itself, on streams built from the pattern: zero filling where Bochs can add it passes, and
    changed, missing, extra or misplaced bytes fail."""
    period = 4096
    expected = pattern(SEED, BYTES)

    def stream(data, cuts=()):
        """`data` in mixer packets, a packet stopping early (zero-filled) at each byte position in `cuts`."""
        out, pos = b"", 0
        for cut in list(cuts) + [len(data)]:
            while pos < cut:
                take = min(MIXER_PACKET, cut - pos)
                out += data[pos:pos + take] + bytes(MIXER_PACKET - take)
                pos += take
        return out

    check_mixer_stream(stream(expected), expected, period)
    good = stream(expected, [4096, 16384, 20480])
    check_mixer_stream(good, expected, period)
    flipped = bytearray(good)
    flipped[30000] ^= 1
    bad = {
        "changed byte": bytes(flipped),
        "missing tail": good[:-MIXER_PACKET],
        "lost period": stream(expected[:4096] + expected[8192:], [4096]),
        "stale period played after the end": stream(expected + expected[:period]),
        "filling inside a period": stream(expected, [6000]),
        "cut packet": good[:-1],
    }
    for what, payload in bad.items():
        try:
            check_mixer_stream(payload, expected, period)
        except AssertionError:
            continue
        pytest.fail(f"{what}: accepted")
