#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Verified load on a file with direct I/O, until a stop file appears.

Usage: verify_load.py FILE SIZE_MIB STATE_FILE STOP_FILE

Threads own disjoint stripes of 4 KiB blocks.  Each block is written once
up front, then each thread writes and reads random blocks of its stripe:
a block's contents are a function of (block, generation), so every read is
checked against the last generation written.  STATE_FILE is rewritten
about every 64 operations as "ops=N errors=E mismatches=M" so a test can
wait for progress; after STOP_FILE appears every block is read back once
more and the last line is written with "done" at its end.  Exit status 0
only with no error and no mismatch.
"""
import hashlib
import mmap
import os
import random
import sys
import threading

BS = 4096
THREADS = 4


def pattern(block, gen):
    seed = hashlib.sha256(b"%d:%d" % (block, gen)).digest()
    return seed * (BS // len(seed))


class Load:
    def __init__(self, path, blocks, state, stop):
        self.fd = os.open(path, os.O_RDWR | os.O_DIRECT)
        self.blocks = blocks
        self.state = state
        self.stop = stop
        self.gen = [0] * blocks
        self.lock = threading.Lock()
        self.ops = self.errors = self.mismatches = 0
        self.first_problem = ""

    def note(self, error=False, mismatch=False, why=""):
        with self.lock:
            self.ops += 1
            self.errors += error
            self.mismatches += mismatch
            if why and not self.first_problem:
                self.first_problem = why
            if self.ops % 64 == 0:
                self.write_state("")

    def write_state(self, suffix):
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            f.write("ops=%d errors=%d mismatches=%d%s%s\n" % (
                self.ops, self.errors, self.mismatches,
                " first=" + self.first_problem if self.first_problem else "", suffix))
        os.replace(tmp, self.state)

    def write(self, buf, block):
        gen = self.gen[block] + 1
        buf[:] = pattern(block, gen)
        try:
            n = os.pwritev(self.fd, [buf], block * BS)
        except OSError as e:
            self.note(error=True, why="write %d: %s" % (block, e))
            return
        if n != BS:
            self.note(error=True, why="write %d: %d bytes" % (block, n))
            return
        self.gen[block] = gen
        self.note()

    def read(self, buf, block):
        try:
            n = os.preadv(self.fd, [buf], block * BS)
        except OSError as e:
            self.note(error=True, why="read %d: %s" % (block, e))
            return
        ok = n == BS and buf[:] == pattern(block, self.gen[block])
        self.note(mismatch=not ok, why="" if ok else "block %d gen %d" % (block, self.gen[block]))

    def run(self, first):
        buf = mmap.mmap(-1, BS)  # page-aligned, as O_DIRECT wants
        mine = range(first, self.blocks, THREADS)
        for block in mine:
            self.write(buf, block)
        rng = random.Random(first)
        while not os.path.exists(self.stop):
            block = rng.choice(mine)
            if rng.random() < 0.5:
                self.write(buf, block)
            else:
                self.read(buf, block)
        for block in mine:
            self.read(buf, block)


def main():
    path, size_mib, state, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    load = Load(path, size_mib * 1024 * 1024 // BS, state, stop)
    threads = [threading.Thread(target=load.run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.write_state(" done")
    return 0 if load.errors == 0 and load.mismatches == 0 and load.ops > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
