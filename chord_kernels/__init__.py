"""chord_kernels: compiled kernels behind chord's ops.

``chord_kernels._cpu`` is the C++ extension (csrc/); ``chord_kernels.triton`` the Triton kernels.
Nothing here probes a GPU at import time.
"""
