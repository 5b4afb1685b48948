"""Loads the weights `nabla train --model cnn --save PATH` wrote into the same nn.Sequential in
PyTorch (strict: every name and shape must match) and prints its test accuracy, which should equal
`nabla evaluate --weights PATH`'s:
    python Tests/Fixtures/load_nabla_weights_in_pytorch.py PATH
"""
import gzip, sys, numpy as np, torch
from torch import nn
from safetensors.torch import load_file
state = load_file(sys.argv[1])
cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
print(cnn.load_state_dict(state, strict=True))
d = "/usr/share/datasets/fashion-mnist/"
x = np.frombuffer(gzip.open(d + "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
y = np.frombuffer(gzip.open(d + "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
with torch.no_grad():
    logits = cnn(torch.tensor(x, dtype=torch.float32) / 255)
print("PyTorch accuracy with Nabla's weights: %.2f%%" % (100 * (logits.argmax(1).numpy() == y).mean()))
