#!/usr/bin/env python3
"""The PyTorch + transformers side of `cargo xtask bench`: one workload per run, one JSON line on stdout.

The workloads mirror `ft bench` (crates/ft-cli/src/commands/bench.rs) exactly:

- `step`: a `BertForSequenceClassification` of a named shape with fresh weights (eager attention, as
  ft computes it), random ids of `[batch, seq]` without padding, two labels.
  `full`: `model.train()`, forward with labels, backward, `clip_grad_norm_(1.0)`, `AdamW.step()`,
  `zero_grad()` — transformers' Trainer step. `frozen`: the same with `model.bert` frozen
  (`requires_grad_(False)`, the chapter's recipe, as Trainer would run it). `lora`: PEFT's
  `get_peft_model` with `LoraConfig(task_type=SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1,
  target_modules=["query", "value"])` (`ft train --peft lora`'s defaults), AdamW at 5e-4 over what PEFT
  leaves trainable (the branches and the head). `inference`: `model.eval()`
  and `torch.inference_mode()`, logits copied to a Python list.
- `tokenize`: `tokenizers.Tokenizer.from_file(tokenizer.json)` with truncation to `max_len`,
  `encode_batch` over all sentences (tokenizers' own thread pool), then batches of `batch` rows in
  sorted-length order padded to their longest row into int64 numpy arrays (ids, types, mask) — what ft's
  length-grouped collation produces.

`torch.set_num_threads(--threads)` and `RAYON_RS_NUM_THREADS` (tokenizers' pool) are set to the cores
ft uses. Peak RSS is `getrusage(RUSAGE_SELF).ru_maxrss`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

SHAPES = {
    "tiny": dict(vocab_size=141, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64, max_position_embeddings=64),
    "minilm": dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                   intermediate_size=1536, max_position_embeddings=512),
}


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def versions() -> dict:
    import numpy
    import tokenizers
    import torch
    import transformers

    out = {"torch": torch.__version__, "transformers": transformers.__version__,
           "tokenizers": tokenizers.__version__, "numpy": numpy.__version__}
    if "peft" in sys.modules:
        out["peft"] = sys.modules["peft"].__version__
    return out


def bench_step(args) -> dict:
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    config = BertConfig(**SHAPES[args.shape], num_labels=2, attn_implementation="eager")
    dev = torch.device(args.device)
    model = BertForSequenceClassification(config).to(dev)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), generator=g).to(dev)
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (args.batch,), generator=g).to(dev)

    if args.mode == "inference":
        model.eval()

        def once():
            with torch.inference_mode():
                out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
                return sum(out.logits.flatten().tolist())
    else:
        lr = 5e-5
        if args.mode == "frozen":
            model.bert.requires_grad_(False)
        elif args.mode == "lora":
            from peft import LoraConfig, TaskType, get_peft_model

            lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1,
                              target_modules=["query", "value"])
            model = get_peft_model(model, lora)
            lr = 5e-4
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for n, p in model.named_parameters() if p.requires_grad and not ("bias" in n or "LayerNorm.weight" in n)]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and ("bias" in n or "LayerNorm.weight" in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
        model.train()

        def once():
            out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return out.loss.detach().item()

    for _ in range(args.warmup):
        once()
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    return {"side": "pytorch", "workload": "step", "shape": args.shape, "mode": args.mode, "batch": args.batch,
            "seq": args.seq, "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "threads": torch.get_num_threads(), "examples_per_iter": args.batch,
            "times": times, "peak_rss_kib": peak_rss_kib(), "versions": versions()}


def bench_explain(args) -> dict:
    """Captum's LayerIntegratedGradients on the word embeddings of a fresh classifier of the shape, for
    one random text of `seq` tokens: the baseline keeps the first and last token and puts [PAD] (0)
    between, F is the softmax probability of class 0, `steps` Gauss-Legendre points, `batch` at a time
    (`internal_batch_size`) — `ft bench explain`'s workload."""
    import captum
    import torch
    import transformers
    from captum.attr import LayerIntegratedGradients
    from transformers import BertConfig, BertForSequenceClassification

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    config = BertConfig(**SHAPES[args.shape], num_labels=2, attn_implementation="eager")
    model = BertForSequenceClassification(config).eval()
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, config.vocab_size, (1, args.seq), generator=g)
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    base = torch.zeros_like(ids)
    base[0, 0], base[0, -1] = ids[0, 0], ids[0, -1]

    def prob(input_ids, token_type_ids, attention_mask):
        logits = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask).logits
        return torch.softmax(logits, dim=-1)[:, 0]

    lig = LayerIntegratedGradients(prob, model.bert.embeddings.word_embeddings)

    def once():
        return lig.attribute(inputs=ids, baselines=base, additional_forward_args=(types, mask), n_steps=args.steps,
                             method="gausslegendre", internal_batch_size=args.batch).sum().item()

    for _ in range(args.warmup):
        once()
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    v = versions()
    v["captum"] = captum.__version__
    return {"side": "pytorch", "workload": "explain", "shape": args.shape, "seq": args.seq, "steps": args.steps,
            "batch": args.batch, "device": "cpu", "threads": torch.get_num_threads(), "examples_per_iter": 1,
            "times": times, "peak_rss_kib": peak_rss_kib(), "versions": v}


def bench_tokenize(args) -> dict:
    import numpy as np
    from tokenizers import Tokenizer

    with open(args.input, encoding="utf-8") as f:
        lines = f.read().splitlines()
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=args.max_len)
    pad_id = tok.token_to_id("[PAD]") or 0
    times = []
    tokens = cells = 0
    for i in range(args.warmup + args.iters):
        t = time.perf_counter()
        encs = tok.encode_batch(lines)
        ids = [e.ids for e in encs]
        type_ids = [e.type_ids for e in encs]
        del encs
        order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
        real = total = 0
        for start in range(0, len(order), args.batch):
            rows = order[start:start + args.batch]
            width = max(len(ids[j]) for j in rows)
            a = np.full((len(rows), width), pad_id, dtype=np.int64)
            ty = np.zeros((len(rows), width), dtype=np.int64)
            m = np.zeros((len(rows), width), dtype=np.int64)
            for r, j in enumerate(rows):
                n = len(ids[j])
                a[r, :n] = ids[j]
                ty[r, :n] = type_ids[j]
                m[r, :n] = 1
            real += int(m.sum())
            total += m.size
        elapsed = time.perf_counter() - t
        if i >= args.warmup:
            times.append(elapsed)
        tokens, cells = real, total
    return {"side": "pytorch", "workload": "tokenize", "sentences": len(lines), "max_len": args.max_len,
            "batch": args.batch, "tokenizer": "tokenizer.json", "threads": args.threads, "tokens": tokens,
            "padded_cells": cells, "examples_per_iter": len(lines), "times": times, "peak_rss_kib": peak_rss_kib(),
            "versions": versions()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("step")
    s.add_argument("--shape", choices=sorted(SHAPES), default="minilm")
    s.add_argument("--mode", choices=("full", "frozen", "lora", "inference"), default="full")
    s.add_argument("--batch", type=int, default=32)
    s.add_argument("--seq", type=int, default=128)
    s.add_argument("--warmup", type=int, default=2)
    s.add_argument("--iters", type=int, default=5)
    s.add_argument("--threads", type=int, default=os.cpu_count())
    s.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    e = sub.add_parser("explain")
    e.add_argument("--shape", choices=sorted(SHAPES), default="minilm")
    e.add_argument("--seq", type=int, default=64)
    e.add_argument("--steps", type=int, default=50)
    e.add_argument("--batch", type=int, default=16)
    e.add_argument("--warmup", type=int, default=1)
    e.add_argument("--iters", type=int, default=3)
    e.add_argument("--threads", type=int, default=os.cpu_count())
    t = sub.add_parser("tokenize")
    t.add_argument("--model-dir", required=True)
    t.add_argument("--input", required=True)
    t.add_argument("--max-len", type=int, default=128)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--iters", type=int, default=3)
    t.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args(argv)
    if args.what == "tokenize":
        os.environ["RAYON_RS_NUM_THREADS"] = str(args.threads)
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        result = bench_tokenize(args)
    elif args.what == "explain":
        result = bench_explain(args)
    else:
        result = bench_step(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
