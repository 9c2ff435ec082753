"""skyhub's hub behaviour as a TLJH plugin (entry point group `tljh`), configured from config.yaml."""

__version__ = "1.0.0"
