# -*- coding: utf-8 -*-
"""Writing files so that a host going down at any moment leaves either the old file or the new one.

One home for the atomic, durable write that config_apply and bulwark_firewalld use. A temporary file of ours
(``.bulwark-*.tmp`` beside the target) can be left only by a host that went down mid-write; callers that find
one remove it.
"""

from __future__ import annotations

import os
import tempfile

TEMP_PREFIX, TEMP_SUFFIX = ".bulwark-", ".tmp"


def fsync_dir(directory: str) -> None:
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int, uid: int = -1, gid: int = -1) -> None:
    """Replace ``path`` atomically and durably (temporary file in the same directory, fsync, rename, fsync of
    the directory). A symbolic link at ``path`` is replaced by the file, not followed."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if uid >= 0 or gid >= 0:
            os.chown(tmp, uid, gid)
        if os.path.islink(path):
            os.unlink(path)
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
