"""Does torch's CPU float arithmetic depend on the ISA it dispatches to? A few SASRec-sized ops
(matmul, softmax, layer norm, their gradients) on fixed random inputs; prints a hash of the bits."""

import hashlib

import torch

torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x = torch.randn(256, 50, 64, generator=g, requires_grad=True)
w = torch.randn(64, 256, generator=g, requires_grad=True)
e = torch.randn(20033, 64, generator=g)
h = torch.nn.functional.layer_norm(torch.relu(x @ w) @ w.t(), (64,))
a = torch.softmax(h @ h.transpose(1, 2) / 8, -1) @ h
loss = torch.nn.functional.cross_entropy(a[:, -1] @ e.t(), torch.arange(256) % 20033)
loss.backward()
d = hashlib.sha256()
for t in (loss.detach(), x.grad, w.grad):
    d.update(t.numpy().tobytes())
print(torch.backends.cpu.get_cpu_capability(), f"{loss.item():.10f}", d.hexdigest()[:16])
