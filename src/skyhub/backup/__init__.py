"""Encrypted, incremental backups of the homes and the hub database with restic: the `skyhub-backup` tool.

`skyhub.backup.tool` is self-contained (Debian's python3 standard library only): the backups role installs
that one file as /usr/local/sbin/skyhub-backup on the hub host, and tests import it from here.
"""
