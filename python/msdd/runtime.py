"""ctypes binding of the runtime's C API (include/msdd/Runtime/Runtime.h).

    from msdd import Artifact
    art = Artifact("model.msdd")
    outputs = art.call("train_step", {"w": w, ...})   # numpy arrays in and out
"""
import ctypes
import json
import os

import numpy as np

_DTYPES = {"f32": (0, np.float32), "f64": (1, np.float64), "i32": (2, np.int32),
           "i64": (3, np.int64), "i1": (4, np.bool_)}


class RuntimeError_(RuntimeError):
    pass


class _Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("data", ctypes.c_void_p)]


def _library():
    path = os.environ.get("MSDD_RUNTIME_LIBRARY")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "lib", "libmsdd_runtime.so")
    lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    lib.msdd_last_error.restype = ctypes.c_char_p
    lib.msdd_artifact_open.restype = ctypes.c_void_p
    lib.msdd_artifact_open.argtypes = [ctypes.c_char_p]
    lib.msdd_artifact_close.argtypes = [ctypes.c_void_p]
    lib.msdd_artifact_manifest.restype = ctypes.c_char_p
    lib.msdd_artifact_manifest.argtypes = [ctypes.c_void_p]
    lib.msdd_artifact_call.restype = ctypes.c_int32
    lib.msdd_artifact_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_Tensor),
                                       ctypes.c_int64, ctypes.POINTER(_Tensor), ctypes.c_int64]
    return lib


class Artifact:
    """A compiled .msdd artifact; `call` runs one of its functions on numpy arrays."""

    _lib = None

    def __init__(self, path):
        if Artifact._lib is None:
            Artifact._lib = _library()
        self._handle = self._lib.msdd_artifact_open(path.encode())
        if not self._handle:
            raise RuntimeError_(self._lib.msdd_last_error().decode())
        manifest = json.loads(self._lib.msdd_artifact_manifest(self._handle))
        self.functions = {f["name"]: f for f in manifest["functions"]}

    def close(self):
        if self._handle:
            self._lib.msdd_artifact_close(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def new_outputs(self, function):
        return {o["name"]: np.empty(o["shape"], _DTYPES[o["dtype"]][1])
                for o in self.functions[function]["outputs"]}

    def call(self, function, inputs, outputs=None):
        """Runs `function`; `outputs` (name -> preallocated array) is filled and returned."""
        spec = self.functions[function]
        outputs = outputs if outputs is not None else self.new_outputs(function)
        keep = []

        def pack(specs, arrays):
            table = (_Tensor * len(specs))()
            for i, s in enumerate(specs):
                a = arrays[s["name"]]
                if not (a.flags["C_CONTIGUOUS"] and a.dtype == _DTYPES[s["dtype"]][1]):
                    raise RuntimeError_(f"{s['name']}: expected a C-contiguous {s['dtype']} array")
                shape = (ctypes.c_int64 * max(1, a.ndim))(*a.shape)
                keep.append(shape)
                table[i] = _Tensor(s["name"].encode(), _DTYPES[s["dtype"]][0], a.ndim, shape,
                                   a.ctypes.data)
            return table

        ins = pack(spec["inputs"], inputs)
        outs = pack(spec["outputs"], outputs)
        if self._lib.msdd_artifact_call(self._handle, function.encode(), ins, len(spec["inputs"]),
                                        outs, len(spec["outputs"])) != 0:
            raise RuntimeError_(self._lib.msdd_last_error().decode())
        return outputs
