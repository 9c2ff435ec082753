"""skyhub: a JupyterHub appliance with a public dataset mounted, for AWS and single VMs."""

__version__ = "0.1.0"
