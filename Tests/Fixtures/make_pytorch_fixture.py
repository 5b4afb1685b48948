"""Writes Tests/NablaTests/Fixtures/pytorch-layers.safetensors: small PyTorch modules' state
dicts (under prefixes), inputs, and the outputs PyTorch computes for them in eval mode.

It also writes pytorch-layers-3.safetensors: the Layers III modules with their outputs and
gradients (by hand, when the safetensors package is missing).

Run once with PyTorch and safetensors installed; the tests read only the files it writes:
    python Tests/Fixtures/make_pytorch_fixture.py
"""
import torch
from torch import nn
try:
    from safetensors.torch import save_file
except ImportError:  # the Layers III part below writes its file by hand
    save_file = None

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

if save_file:
    save_file({k: v.contiguous() for k, v in tensors.items()}, "Tests/NablaTests/Fixtures/pytorch-layers.safetensors",
              metadata={"torch": torch.__version__})
    print(len(tensors), "tensors")

# Layers III: modules with their outputs and gradients (a random upstream gradient, and for the
# recurrent layers random initial states and final-state gradients), in training mode. Written by
# hand in the safetensors format (little-endian F32) when the safetensors package is missing.
import copy
import json
import struct


def write_safetensors(tensors, path, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


torch.manual_seed(1)
generator = nn.Sequential(
    nn.ConvTranspose2d(8, 6, 4, 1, 0, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
    nn.ConvTranspose2d(6, 3, 4, 2, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU(),
    nn.ConvTranspose2d(3, 1, 3, 2, 1, output_padding=1), nn.Tanh(),
)
lstm2 = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
gru3 = nn.GRU(3, 4, num_layers=3, batch_first=True)

fixture = {}
for prefix, module in [("generator.", generator), ("lstm2.", lstm2), ("gru3.", gru3)]:
    for name, value in copy.deepcopy(module.state_dict()).items():
        fixture[prefix + name] = value


def record(prefix, module, inputs, outputs):
    """Saves inputs, outputs, random upstream gradients, and the gradients they give."""
    upstream = [torch.randn_like(o) for o in outputs]
    torch.autograd.backward(outputs, upstream)
    for k, i in enumerate(inputs):
        fixture[f"{prefix}input.{k}"] = i.detach()
        fixture[f"{prefix}input_grad.{k}"] = i.grad
    for k, (o, g) in enumerate(zip(outputs, upstream)):
        fixture[f"{prefix}output.{k}"] = o.detach()
        fixture[f"{prefix}upstream.{k}"] = g
    for name, parameter in module.named_parameters():
        fixture[f"{prefix}grad.{name}"] = parameter.grad


generator.train()
z = torch.randn(4, 8, 1, 1, requires_grad=True)
record("run.generator.", generator, [z], [generator(z)])
x = torch.randn(5, 2, 3, requires_grad=True)
h0 = torch.randn(4, 2, 4, requires_grad=True)
c0 = torch.randn(4, 2, 4, requires_grad=True)
output, (hn, cn) = lstm2(x, (h0, c0))
record("run.lstm2.", lstm2, [x, h0, c0], [output, hn, cn])
b = torch.randn(2, 5, 3, requires_grad=True)
output, hn = gru3(b)
record("run.gru3.", gru3, [b], [output, hn])
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3")

# Normalization: InstanceNorm2d with affine and running statistics (training, then inference on
# the updated statistics) and RMSNorm, with random affine weights.
torch.manual_seed(2)
inorm = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
rms = nn.RMSNorm([5])
with torch.no_grad():
    inorm.weight.uniform_(0.5, 1.5)
    inorm.bias.uniform_(-0.5, 0.5)
    rms.weight.uniform_(0.5, 1.5)
norms3 = {}
for prefix, module in [("inorm.", inorm), ("rms.", rms)]:
    for name, value in copy.deepcopy(module.state_dict()).items():
        norms3[prefix + name] = value
fixture.update(norms3)
inorm.train()
x = torch.randn(2, 3, 4, 5, requires_grad=True)
record("run.inorm.", inorm, [x], [inorm(x)])
fixture["run.inorm.running_mean_after"] = inorm.running_mean.clone()
fixture["run.inorm.running_var_after"] = inorm.running_var.clone()
inorm.eval()
with torch.no_grad():
    e = torch.randn(2, 3, 4, 5)
    fixture["run.inorm_eval.input.0"], fixture["run.inorm_eval.output.0"] = e, inorm(e)
r = torch.randn(2, 3, 5, requires_grad=True)
record("run.rms.", rms, [r], [rms(r)])
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3 with the normalizations")

# Transformer encoders (dropout 0, so that training is deterministic): a post-norm ReLU stack and
# a pre-norm GELU stack with a final norm, batch first, with a causal mask and key padding on the
# last positions (PyTorch gives NaN for a query that sees no key).
torch.manual_seed(3)
post = nn.TransformerEncoder(
    nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, dropout=0.0, batch_first=True), num_layers=2,
    enable_nested_tensor=False)
pre = nn.TransformerEncoder(
    nn.TransformerEncoderLayer(6, 3, dim_feedforward=5, dropout=0.0, activation="gelu", batch_first=True,
                               norm_first=True), num_layers=2, norm=nn.LayerNorm(6), enable_nested_tensor=False)
with torch.no_grad():  # different layers, and norms away from their defaults
    for module in (post, pre):
        for name, parameter in module.named_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
for prefix, module in [("post.", post), ("pre.", pre)]:
    for name, value in copy.deepcopy(module.state_dict()).items():
        fixture[prefix + name] = value
post.train()
pre.train()
causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
padding = torch.tensor([[False, False, False, True], [False, False, False, False]])
s = torch.randn(2, 4, 6, requires_grad=True)
record("run.post.", post, [s], [post(s, mask=causal, src_key_padding_mask=padding)])
fixture["run.post.padding"] = padding.float()
s2 = torch.randn(2, 4, 6, requires_grad=True)
record("run.pre.", pre, [s2], [pre(s2, mask=causal)])
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3 with the transformers")

# Grouped convolutions: a depthwise Conv2d with a channel multiplier, a grouped Conv1d and a
# grouped ConvTranspose2d.
torch.manual_seed(4)
depthwise = nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3)
conv1d = nn.Conv1d(4, 6, 3, padding=1, dilation=2, groups=2)
transposed = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2)
for prefix, module in [("depthwise.", depthwise), ("conv1d.", conv1d), ("transposed.", transposed)]:
    for name, value in copy.deepcopy(module.state_dict()).items():
        fixture[prefix + name] = value
d = torch.randn(2, 3, 7, 6, requires_grad=True)
record("run.depthwise.", depthwise, [d], [depthwise(d)])
c = torch.randn(2, 4, 9, requires_grad=True)
record("run.conv1d.", conv1d, [c], [conv1d(c)])
t = torch.randn(2, 4, 3, 4, requires_grad=True)
record("run.transposed.", transposed, [t], [transposed(t)])
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3 with the grouped convolutions")

# Resampling and padding: outputs and input gradients (no parameters).
torch.manual_seed(5)
resampling = {
    "nearest": nn.Upsample(scale_factor=2, mode="nearest"),
    "bilinear": nn.Upsample(size=(5, 7), mode="bilinear", align_corners=False),
    "bilinear_corners": nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
    "adaptive": nn.AdaptiveAvgPool2d((2, 3)),
    "zeropad": nn.ZeroPad2d((1, 0, 2, 1)),
    "reflectionpad": nn.ReflectionPad2d((2, 1, 1, 0)),
    "shuffle": nn.PixelShuffle(2),
    "unshuffle": nn.PixelUnshuffle(2),
}
for name, module in resampling.items():
    shape = {"shuffle": (2, 8, 3, 4), "unshuffle": (2, 2, 4, 6), "adaptive": (2, 3, 5, 7)}.get(name, (2, 3, 3, 4))
    x = torch.randn(*shape, requires_grad=True)
    record(f"run.{name}.", module, [x], [module(x)])
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3 with the resampling layers")

# Losses: NLLLoss with class weights and an ignored sample, KLDivLoss (batchmean) with a zero in
# the target; values and gradients.
torch.manual_seed(6)
log_probabilities = torch.log_softmax(torch.randn(5, 4), dim=1).requires_grad_()
classes = torch.tensor([2, 0, -100, 3, 2])
weights = torch.tensor([0.5, 1.0, 2.0, 1.5])
nll = nn.NLLLoss(weight=weights)(log_probabilities, classes)
nll.backward()
fixture["run.nll.input"], fixture["run.nll.target"] = log_probabilities.detach(), classes.float()
fixture["run.nll.weight"], fixture["run.nll.value"] = weights, nll.detach().reshape(1)
fixture["run.nll.input_grad"] = log_probabilities.grad
kl_input = torch.log_softmax(torch.randn(3, 4), dim=1).requires_grad_()
kl_target = torch.softmax(torch.randn(3, 4), dim=1)
kl_target[1, 2] = 0
kl = nn.KLDivLoss(reduction="batchmean")(kl_input, kl_target)
kl.backward()
fixture["run.kl.input"], fixture["run.kl.target"] = kl_input.detach(), kl_target
fixture["run.kl.value"], fixture["run.kl.input_grad"] = kl.detach().reshape(1), kl_input.grad
write_safetensors(fixture, "Tests/NablaTests/Fixtures/pytorch-layers-3.safetensors", {"torch": torch.__version__})
print(len(fixture), "tensors in pytorch-layers-3 with the losses")
