"""A small file system for the mirror, so that its disk can really fill up (ENOSPC).

A tmpfs of a few MiB is mounted when this process may (root, or CAP_SYS_ADMIN); the mirror's
root is a directory inside it and the ballast that fills it is a file beside that directory
(so the mirror never sees it). Where no tmpfs can be mounted the mirror lives on the ordinary
disk and the disk-full phase is skipped, saying why: a simulated ENOSPC (a patched ``open``,
a quota on a shared disk) would not be the same kernel error through the same code paths,
and filling the machine's real disk would disturb everything else on it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path

CHUNK = 64 * 1024


class SmallDisk:
    def __init__(self, where: Path, size_mb: int) -> None:
        self.where = where
        self.size_mb = size_mb
        self.mounted = False
        self.why_not = ""
        self.fills = 0
        self.ballast = where / "ballast"

    @property
    def mirror_dir(self) -> Path:
        return self.where / "mirror"

    def __enter__(self) -> SmallDisk:
        self.where.mkdir(parents=True, exist_ok=True)
        mount = shutil.which("mount")
        if mount is None:
            self.why_not = "no mount(8) on this machine"
        else:
            answer = subprocess.run(
                [
                    mount,
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={self.size_mb}m,mode=0755",
                    "tmpfs",
                    self.where,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if answer.returncode == 0:
                self.mounted = True
            else:
                self.why_not = (
                    f"mount -t tmpfs failed: {answer.stderr.strip() or answer.returncode}"
                )
        self.mirror_dir.mkdir(exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mounted:
            umount = shutil.which("umount") or "umount"
            answer = subprocess.run([umount, self.where], capture_output=True, check=False)
            if answer.returncode != 0:  # something still holds it: detach it lazily
                subprocess.run([umount, "-l", self.where], capture_output=True, check=False)
            self.mounted = False

    def fill(self) -> int:
        """Write ballast until the file system is full; the bytes written."""
        written = 0
        chunk = b"\0" * CHUNK
        descriptor = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = CHUNK
            while size:
                try:
                    written += os.write(descriptor, chunk[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    size //= 2  # fill the last pages too
        finally:
            os.close(descriptor)
        self.fills += 1
        return written

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.ballast.unlink()

    def usage(self) -> tuple[int, int]:
        """(used, total) bytes."""
        stat = os.statvfs(self.where)
        total = stat.f_blocks * stat.f_frsize
        return total - stat.f_bfree * stat.f_frsize, total
