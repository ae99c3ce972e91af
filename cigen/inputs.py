"""Reading a file cigen is pointed at, which may be no file at all: a FIFO would block the read
and a device such as /dev/zero would never end it. Every file cigen reads goes through `read`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_BYTES = 16 << 20  # the most cigen reads of any file; no input or output comes near it


class NotRegular(OSError):
    """A FIFO, socket or device (or a link to one): refused without being read."""


class TooLarge(OSError):
    """More bytes than the caller would ever need: refused after reading just past the limit."""


def read(path: Path | str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file at `path`, links followed. Raises FileNotFoundError (and
    any OSError open raises), IsADirectoryError, NotRegular, or TooLarge past `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO's open would wait for a writer
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise NotRegular(errno.EINVAL, "is not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(errno.EFBIG, f"over {limit} bytes", str(path))
    return data
