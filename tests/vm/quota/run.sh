#!/bin/sh
# Runs as the test inside the VM (see tests/vm/vmlib.py): XFS with prjquota on the scratch disk as the
# home volume, skyhub-quota gives alice 20 MiB (`set`) and bob 40 MiB (settings), then uid 1000 writes.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
modprobe xfs || exit 10
mkfs.xfs -q -f /dev/vdb || exit 11
mkdir -p /srv/skyhub/home /etc/skyhub
mount -t xfs -o prjquota /dev/vdb /srv/skyhub/home || exit 12
grep ' /srv/skyhub/home ' /proc/mounts
for u in alice bob; do mkdir /srv/skyhub/home/$u && chown 1000:1000 /srv/skyhub/home/$u; done
# skyhub-quota imports skyhub_safehome.py (src/skyhub/safehome.py) from here (the quotas role installs it)
mkdir -p /usr/local/lib/skyhub && cp /payload/safehome.py /usr/local/lib/skyhub/skyhub_safehome.py
# what a user plants before the first apply: a link to another tree on the same XFS volume, and a FIFO
mkdir /srv/skyhub/home/.other && echo x > /srv/skyhub/home/.other/f
ln -s /srv/skyhub/home/.other /srv/skyhub/home/alice/other && mkfifo /srv/skyhub/home/alice/pipe
cp /payload/quotas.json /etc/skyhub/quotas.json
Q="python3 /payload/skyhub-quota --config /etc/skyhub/quotas.json"
echo "== check"; $Q check; echo "RC check $?"
echo "== set"; $Q set alice 20M; echo "RC set $?"
echo "== apply"; $Q apply; echo "RC apply $?"
echo "== projects"; cat /etc/projid
xfs_io -r -c lsproj /srv/skyhub/home/.other/f | sed 's/^/OTHER /'
xfs_io -r -c lsproj /srv/skyhub/home/alice | sed 's/^/ALICE /' 
echo "== writes"
setpriv --reuid 1000 --regid 1000 --clear-groups python3 /payload/writer.py /srv/skyhub/home/alice 30
setpriv --reuid 1000 --regid 1000 --clear-groups python3 /payload/writer.py /srv/skyhub/home/bob 30
echo "== bypass (documented limit: a file's owner may change its project id)"
setpriv --reuid 1000 --regid 1000 --clear-groups python3 /payload/bypass.py /srv/skyhub/home/bob 30
echo "== report"; $Q report; echo "RC report $?"
# stderr apart: the report warns that no hub answers for the limits (this VM has no hub), which is not JSON
echo "== json-begin"; $Q report --json 2>/tmp/report.err; echo "== json-end"; sed 's/^/REPORT-STDERR /' /tmp/report.err
exit 0
