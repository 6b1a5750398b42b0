# lit configuration for the msdd test suites.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "MSDD"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.msdd_obj_root, "test")

llvm_config.with_system_environment(["HOME", "TMPDIR", "PATH", "MSDD_NUM_THREADS"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.msdd_tools_dir, append_path=True)
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%msdd_src", config.msdd_src_root))
# The Python binding (python/msdd) loads this build's runtime, wherever the build folder is.
config.environment["MSDD_RUNTIME_LIBRARY"] = os.path.join(config.msdd_obj_root, "lib", "libmsdd_runtime.so")
llvm_config.add_tool_substitutions(
    ["msdd-opt", "msdd-compile", "msdd-run", "msdd-emulate-cuda"], [config.msdd_tools_dir])

# The emulated CUDA driver and cuBLAS (lib/Emulation/EmulatedDriver.cpp) in place of NVIDIA's:
# the runtime then runs CUDA artifacts on the CPU. CUDA_HOME would make it load the real cuBLAS.
config.substitutions.append(("%emulated_cuda", "env -u CUDA_HOME -u CUDA_PATH LD_LIBRARY_PATH=" +
                             os.path.join(config.msdd_obj_root, "lib", "emulated-cuda")))

# A usable NVIDIA driver (tests of the no-GPU behaviour are skipped where there is one).
import ctypes
try:
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-device")
except OSError:
    pass

# ptxas from the CUDA toolkit, when installed, checks the CUDA pipeline's PTX.
import shutil
ptxas = shutil.which("ptxas") or ("/usr/local/cuda/bin/ptxas" if os.path.exists("/usr/local/cuda/bin/ptxas") else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("ptxas", ptxas))

# PyTorch and onnx in Debian's python3 (python3-torch, python3-onnx; scripts/install-peers.sh):
# the reference tokenizer's ONNX export tests need them.
import subprocess
if subprocess.run([config.python_executable, "-c", "import torch, onnx"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("torch")
