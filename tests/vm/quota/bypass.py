"""As the container user: move a new file out of the home's project (FS_IOC_FSSETXATTR, project 0; XFS lets
a file's owner do it) and write COUNT MiB into it. Prints one BYPASS line (a documented limit of quotas)."""

import errno
import fcntl
import os
import struct
import sys

target, count = sys.argv[1], int(sys.argv[2])
fsx = struct.Struct("=5I8x")
written, outcome = 0, "OK"
try:
    fd = os.open(os.path.join(target, "escape.bin"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    fields = list(fsx.unpack(fcntl.ioctl(fd, 0x801C581F, bytes(fsx.size))))
    fields[3] = 0
    fcntl.ioctl(fd, 0x401C5820, fsx.pack(*fields))
    for _ in range(count):
        written += os.write(fd, b"\2" * 1024 * 1024)
    os.fsync(fd)
    os.close(fd)
except OSError as exc:
    outcome = errno.errorcode.get(exc.errno or 0, str(exc.errno))
print(f"BYPASS {os.path.basename(target)} {outcome} {written}", flush=True)
