"""Python access to the MSDD runtime (ctypes over libmsdd_runtime.so's C API)."""
from .runtime import Artifact, RuntimeError_  # noqa: F401
