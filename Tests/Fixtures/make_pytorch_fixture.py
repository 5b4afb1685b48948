"""Writes Tests/NablaTests/Fixtures/pytorch-layers.safetensors: small PyTorch modules' state
dicts (under prefixes), inputs, and the outputs PyTorch computes for them in eval mode.

Run once with PyTorch and safetensors installed; the test reads only the file it writes:
    python Tests/Fixtures/make_pytorch_fixture.py
"""
import torch
from torch import nn
from safetensors.torch import save_file

torch.manual_seed(0)
cnn = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(6 * 2 * 2, 5), nn.GELU(), nn.Linear(5, 3),
)
# Train the batch norm a little so its running statistics are not the defaults.
cnn.train()
for _ in range(3):
    cnn(torch.randn(8, 1, 8, 8))
cnn.eval()
lstm = nn.LSTM(3, 4)
gru = nn.GRU(3, 4, batch_first=True)
attention = nn.MultiheadAttention(6, 2, batch_first=True)
norms = nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 6), nn.Tanh())
embedding = nn.Embedding(10, 3)

tensors = {}
for prefix, module in [("cnn.", cnn), ("lstm.", lstm), ("gru.", gru), ("attention.", attention),
                       ("norms.", norms), ("embedding.", embedding)]:
    for name, value in module.state_dict().items():
        tensors[prefix + name] = value.contiguous()

with torch.no_grad():
    x = torch.randn(2, 1, 8, 8)
    tensors["input.cnn"], tensors["output.cnn"] = x, cnn(x)
    s = torch.randn(5, 2, 3)  # [T, B, I]
    tensors["input.lstm"], tensors["output.lstm"] = s, lstm(s)[0]
    b = torch.randn(2, 5, 3)  # batch first
    tensors["input.gru"], tensors["output.gru"] = b, gru(b)[0]
    q = torch.randn(2, 4, 6)
    tensors["input.attention"] = q
    tensors["output.attention"] = attention(q, q, q, need_weights=False)[0]
    tensors["output.attention_causal"] = attention(
        q, q, q, need_weights=False, attn_mask=torch.triu(torch.ones(4, 4, dtype=torch.bool), 1))[0]
    n = torch.randn(3, 6)
    tensors["input.norms"], tensors["output.norms"] = n, norms(n)
    i = torch.tensor([[1, 4, 4], [9, 0, 2]])
    tensors["input.embedding"], tensors["output.embedding"] = i.float(), embedding(i)

save_file({k: v.contiguous() for k, v in tensors.items()}, "Tests/NablaTests/Fixtures/pytorch-layers.safetensors",
          metadata={"torch": torch.__version__})
print(len(tensors), "tensors")
