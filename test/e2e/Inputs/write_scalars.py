"""Writes a safetensors file of f32 scalars: write_scalars.py OUT name=value ..."""
import json
import struct
import sys

tensors = [(arg.split("=")[0], float(arg.split("=")[1])) for arg in sys.argv[2:]]
header, data = {}, b""
for name, value in tensors:
    header[name] = {"dtype": "F32", "shape": [], "data_offsets": [len(data), len(data) + 4]}
    data += struct.pack("<f", value)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text + data)
