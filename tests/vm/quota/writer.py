"""Write MiB chunks into DIR/big.bin until COUNT MiB or an error; print one WRITE line with the outcome."""

import errno
import os
import sys

target, count = sys.argv[1], int(sys.argv[2])
chunk, written, outcome = b"\1" * 1024 * 1024, 0, "OK"
try:
    with open(os.path.join(target, "big.bin"), "wb") as fh:
        for _ in range(count):
            fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
            written += len(chunk)
except OSError as exc:
    outcome = errno.errorcode.get(exc.errno or 0, str(exc.errno))
print(f"WRITE {os.path.basename(target)} {outcome} {written}", flush=True)
