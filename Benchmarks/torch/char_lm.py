#!/usr/bin/env python3
"""The PyTorch peer of `nabla text`: the same corpus split, vocabulary, models, recipe and
batches, reporting the validation bits per character and the seconds per epoch.

    python char_lm.py --model lstm --epochs 1 --limit 500000 --threads 1
    python char_lm.py --model transformer --epochs 1 --limit 500000 --threads 2

The rules, as Nabla's (Sources/Nabla/Data/FortuneCorpus.swift, Sources/NablaCommand/TextModels.swift):
- Files: every regular file of the folder (no symbolic links such as *.u8, no folders) whose name
  does not start with "." or end in ".dat" and that holds no NUL byte, read as UTF-8, in sorted
  name order (by code point).
- Fortunes: a file's lines (split at "\\n"; a final "\\n" ends the last line); a line holding only
  "%" ends a fortune; a fortune is its lines each followed by "\\n", and one with no lines is
  dropped. Counting all fortunes from 0 in that order, fortune i goes to validation when
  i % 10 == 9. Each split's text is its fortunes, each followed by "%\\n".
- Vocabulary: index 0 unknown, then the training text's code points in increasing order.
- LSTM: embedding, 2-layer LSTM (batch_first), Linear head. Truncated backpropagation through
  time: the text is cut into batch-size streams of L = (n - 1) // batch characters; step k takes
  characters kT .. min((k+1)T, L) of every stream, targets one later; the state is carried,
  detached, from step to step and reset each epoch.
- Transformer: embedding plus nn.Embedding of positions, 2 pre-norm TransformerEncoderLayers
  (GELU, no dropout, causal mask), a final LayerNorm, Linear head. Each epoch: a random offset
  in [0, context), the full windows of `context` characters from it in a random order.
- Validation: the LSTM along batch-size streams of the whole validation text, the Transformer
  on consecutive windows (the last, shorter one too); cross-entropy summed in nats / count / ln 2.
- Adam (PyTorch's defaults but the learning rate), mean cross-entropy over every position,
  clip_grad_norm_ to --clip, PyTorch's default initialization (each encoder layer drawn on its
  own, as Nabla does, rather than nn.TransformerEncoder's copies of one layer).
"""

import argparse
import json
import math
import os
import stat
import time

import torch
import torch.nn.functional as F
from torch import nn


def fortunes(text):
    """The fortunes of one file's text, each as its lines and "%\\n"."""
    if text == "":
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    result, current = [], []
    for line in lines + ["%"]:
        if line == "%":
            if current:
                result.append("".join(line + "\n" for line in current) + "%\n")
            current = []
        else:
            current.append(line)
    return result


def load_corpus(directory):
    if not os.path.isdir(directory):
        raise SystemExit(f"{directory}: no such folder (install the fortunes package: apt-get install fortunes)")
    training, validation, files, index = [], [], [], 0
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or name.endswith(".dat"):
            continue
        path = os.path.join(directory, name)
        if not stat.S_ISREG(os.lstat(path).st_mode):
            continue
        data = open(path, "rb").read()
        if b"\0" in data:
            continue
        files.append(name)
        for fortune in fortunes(data.decode("utf-8", errors="replace")):
            (validation if index % 10 == 9 else training).append(fortune)
            index += 1
    if not training or not validation:
        raise SystemExit(f"{directory}: no text to train on (install the fortunes package: apt-get install fortunes)")
    return files, "".join(training), "".join(validation), len(training), len(validation)


class LSTMModel(nn.Module):
    def __init__(self, vocabulary, embedding, hidden, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens, state=None):
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state


class TransformerModel(nn.Module):
    def __init__(self, vocabulary, d_model, heads, feed_forward, context, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, d_model)
        self.position = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, feed_forward, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        for copy in self.encoder.layers:  # each layer drawn on its own, as Nabla's
            copy.self_attn._reset_parameters()
            copy.linear1.reset_parameters()
            copy.linear2.reset_parameters()
        self.head = nn.Linear(d_model, vocabulary)

    def forward(self, tokens, state=None):
        length = tokens.shape[1]
        x = self.embedding(tokens) + self.position(torch.arange(length))
        mask = nn.Transformer.generate_square_subsequent_mask(length)
        return self.head(self.encoder(x, mask=mask, is_causal=True)), None


def batch(text, starts, length):
    inputs = torch.stack([text[s:s + length] for s in starts])
    targets = torch.stack([text[s + 1:s + 1 + length] for s in starts])
    return inputs, targets


def streams(text, batch_size, length):
    stream = (len(text) - 1) // batch_size
    return [batch(text, [b * stream + start for b in range(batch_size)], min(length, stream - start))
            for start in range(0, stream, length)]


def windows(text, batch_size, length, offset=0, order=None, keep_short=True):
    usable = len(text) - 1 - offset
    if usable <= 0:
        return []
    full = usable // length
    order = list(range(full)) if order is None else order
    batches = [batch(text, [offset + w * length for w in order[first:first + batch_size]], length)
               for first in range(0, full, batch_size)]
    if keep_short and usable % length:
        batches.append(batch(text, [offset + full * length], usable % length))
    return batches


def evaluate(model, kind, text, batch_size, length):
    nats, count, state = 0.0, 0, None
    batches = streams(text, batch_size, length) if kind == "lstm" else windows(text, batch_size, length)
    with torch.no_grad():
        for inputs, targets in batches:
            logits, state = model(inputs, state)
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").item()
            count += targets.numel()
    return nats / count / math.log(2), count


def sample(model, kind, prime, length, temperature, context, generator):
    text, state, nxt = list(prime), None, list(prime)
    with torch.no_grad():
        for _ in range(length):
            logits, state = model(torch.tensor([nxt]), state)
            scores = logits[0, -1] / temperature
            scores[0] = -math.inf  # never the unknown symbol
            index = torch.multinomial(torch.softmax(scores, 0), 1, generator=generator).item()
            text.append(index)
            nxt = [index] if kind == "lstm" else text[-context:]
    return text[len(prime):]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    parser.add_argument("--data", default="/usr/share/games/fortunes")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=100)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--feed-forward", type=int, default=512)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N characters only")
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--sample-length", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--json", action="store_true", help="print one JSON line per epoch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    files, training_text, validation_text, training_fortunes, validation_fortunes = load_corpus(args.data)
    symbols = sorted(set(training_text))
    index = {symbol: i + 1 for i, symbol in enumerate(symbols)}
    vocabulary = len(symbols) + 1
    encode = lambda text: torch.tensor([index.get(c, 0) for c in text], dtype=torch.long)
    training = encode(training_text[:args.limit] if args.limit else training_text)
    validation = encode(validation_text)
    kind = args.model
    length = args.sequence_length if kind == "lstm" else args.context
    lr = args.lr or (2e-3 if kind == "lstm" else 1e-3)
    model = (LSTMModel(vocabulary, args.embedding, args.hidden) if kind == "lstm"
             else TransformerModel(vocabulary, args.d_model, args.heads, args.feed_forward, args.context))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    print(f"{kind} on {len(files)} fortune files: {len(training)} training characters ({training_fortunes} fortunes"
          f"{f', the first {args.limit}' if args.limit else ''}), {len(validation)} validation ({validation_fortunes} "
          f"fortunes), {vocabulary} symbols; {sum(p.numel() for p in model.parameters())} parameters; PyTorch "
          f"{torch.__version__}, {torch.get_num_threads()} thread(s), Adam lr {lr}, clip {args.clip}, batch {args.batch_size}, "
          f"{'sequence' if kind == 'lstm' else 'context'} {length}", flush=True)

    generator = torch.Generator().manual_seed(args.seed + 1)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        if kind == "lstm":
            batches = streams(training, args.batch_size, length)
        else:
            offset = int(torch.randint(0, length, (1,), generator=generator))
            full = max(0, (len(training) - 1 - offset) // length)
            order = torch.randperm(full, generator=generator).tolist()
            batches = windows(training, args.batch_size, length, offset, order, keep_short=False)
        if args.steps_per_epoch:
            batches = batches[:args.steps_per_epoch]
        state, nats, count = None, 0.0, 0
        for step, (inputs, targets) in enumerate(batches):
            optimizer.zero_grad()
            logits, state = model(inputs, state)
            if state is not None:
                state = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, vocabulary), targets.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            nats += loss.item() * targets.numel()
            count += targets.numel()
            if (step + 1) % 50 == 0:
                print(f"epoch {epoch + 1} {step + 1}/{len(batches)} loss {nats / count:.4f} "
                      f"{count / (time.perf_counter() - start):.0f} chars/s", flush=True)
        training_seconds = time.perf_counter() - start
        model.eval()
        bits, predicted = evaluate(model, kind, validation, args.batch_size, length)
        validation_seconds = time.perf_counter() - start - training_seconds
        print(f"epoch {epoch + 1}: train loss {nats / count:.4f} nats/char ({nats / count / math.log(2):.4f} bits), "
              f"validation {bits:.4f} bits per character, {training_seconds:.1f}s training ({len(batches)} steps), "
              f"{validation_seconds:.1f}s validation", flush=True)
        if args.json:
            print(json.dumps({"model": kind, "threads": args.threads, "epoch": epoch + 1, "train_loss_nats": nats / count,
                              "validation_bpc": bits, "validation_characters": predicted,
                              "seconds_per_epoch": training_seconds, "validation_seconds": validation_seconds}))
    if args.sample_length:
        drawn = sample(model, kind, encode("%\n").tolist(), args.sample_length, args.temperature, args.context,
                       torch.Generator().manual_seed(args.seed + 2))
        print("\nSample:\n\n" + "".join(symbols[i - 1] if i else "\ufffd" for i in drawn))


if __name__ == "__main__":
    main()
