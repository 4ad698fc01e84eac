"""tartan-fw: end-task aware training (MT-TARTAN, META-TARTAN) from declarative experiment files."""

__version__ = "0.1.0"
