"""Per-user storage quotas (XFS project quotas) and usage reports: the `skyhub-quota` host tool.

`skyhub.quota.tool` is self-contained (Debian's python3 standard library only): the quotas role installs
that one file as /usr/local/sbin/skyhub-quota on the hub host, and tests import it from here.
"""
