"""tinysquid: move a tinyproxy forward proxy to squid on Kubernetes, line by line, with evidence."""

__version__ = "0.1.0"

__all__ = ["__version__"]
