#!/usr/bin/env python3
"""Starts Debian's damo (DAMO_PKG = the dist-packages directory of a `dpkg -x` of it) with one
piece of kernel behaviour a plain file tree lacks: a kdamond's `state` file takes commands
(`update_schemes_tried_regions`, `commit`, ...) and keeps reading `on`, instead of storing the
word. Every other read and write of damo goes to the files as they are. Only ever run by
bench/damo-sandbox.sh, inside its private mount namespace over a fake tree.

    damo-fake-kernel.py DAMO_PKG DAMO_ARGS...
"""
import os
import sys

pkg = sys.argv[1]
sys.argv = ["damo"] + sys.argv[2:]
sys.path.insert(0, pkg)
sys.path.insert(0, os.path.join(pkg, "damo"))
import _damo_fs  # noqa: E402  (damo's modules import each other as top-level modules)

_write = _damo_fs.write_file


def write_file(filepath, content):
    if os.path.basename(filepath) == "state" and os.path.basename(os.path.dirname(os.path.dirname(filepath))) == "kdamonds":
        # A state command: the kernel acts on it (nothing to do here: the regions are static)
        # and the file still reads "on".
        return None
    return _write(filepath, content)


_damo_fs.write_file = write_file
import damo  # noqa: E402  (damo.py, the entry point's module)

sys.exit(damo.main())
