"""PyTorch reference of the multi-scale diffusion tokenizer (docs/tokenizer.md)."""
import os
import sys

# msdd.images (safetensors I/O) lives beside this package under python/.
_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _here not in sys.path:
    sys.path.insert(0, _here)

from .model import Decoder, Encoder, Tokenizer, latent_grid, load_config, scale_resolution  # noqa: E402,F401
from .sampler import block_noise, sample, schedule  # noqa: E402,F401
