#!/usr/bin/env python3
"""The reference for `cargo xtask compare stsb`: sentence-pair regression with PyTorch + transformers.

`BertForSequenceClassification` with `num_labels=1` and `problem_type="regression"` (MSE on the one
logit), trained by `reference_train.fine_tune` (the loop, schedule, seeding and AdamW groups every
reference shares), on pairs tokenized as `tokenizer(text, text_pair, truncation=True, max_length=N)`
(`longest_first`, as ft). Validation after every epoch; the best epoch is the one with the lowest
validation MSE (ft's default `metric_for_best` for regression is the loss), kept and evaluated on test.
Metrics: MSE (= the loss), MAE, Pearson and Spearman (scipy.stats, as ft-eval's goldens).

`--data DIR` holds train.tsv, validation.tsv and test.tsv with the header `label<TAB>text<TAB>text_pair`
(what `ft fetch stsb` writes), no quoting. Arguments: those of reference_train.py.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import reference_train as base  # noqa: E402  (argument parsing, the loop, versions)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import pearsonr, spearmanr  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402


def read_pairs(path: Path) -> tuple[list[float], list[str], list[str]]:
    """(scores, texts, text pairs) of a `label<TAB>text<TAB>text_pair` file."""
    scores, a, b = [], [], []
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != ["label", "text", "text_pair"]:
            raise SystemExit(f"{path}: header {header}, expected label, text, text_pair")
        for lineno, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise SystemExit(f"{path}:{lineno}: {len(fields)} fields, expected 3")
            scores.append(float(fields[0]))
            a.append(fields[1])
            b.append(fields[2])
    return scores, a, b


class Pairs:
    """One split, tokenized once (truncated, unpadded)."""

    def __init__(self, tokenizer, scores: list[float], a: list[str], b: list[str], max_len: int):
        enc = tokenizer(a, b, truncation=True, max_length=max_len, padding=False)
        self.input_ids = enc["input_ids"]
        self.token_type_ids = enc["token_type_ids"]
        self.scores = scores
        self.pad_id = tokenizer.pad_token_id

    def __len__(self) -> int:
        return len(self.scores)

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        width = max(len(self.input_ids[i]) for i in indices)
        ids = torch.full((len(indices), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(indices), width), dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            n = len(self.input_ids[i])
            ids[row, :n] = torch.tensor(self.input_ids[i])
            types[row, :n] = torch.tensor(self.token_type_ids[i])
            mask[row, :n] = 1
        labels = torch.tensor([self.scores[i] for i in indices], dtype=torch.float32)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels}


def evaluate(model, data: Pairs, batch_size: int) -> dict:
    model.eval()
    preds: list[float] = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = list(range(start, min(start + batch_size, len(data))))
            preds.extend(model(**data.batch(idx)).logits.squeeze(-1).tolist())
    y, p = np.asarray(data.scores, dtype=np.float64), np.asarray(preds, dtype=np.float64)
    mse = float(np.mean((p - y) ** 2))
    return {
        "loss": mse,
        "neg_loss": -mse,
        "mse": mse,
        "mae": float(np.mean(np.abs(p - y))),
        "pearson": float(pearsonr(y, p).statistic),
        "spearman": float(spearmanr(y, p).statistic),
        "examples": len(data),
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    args = base.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.freeze != "none" or args.padding != "dynamic":
        raise SystemExit("reference_sts.py runs the issue's recipe only: --freeze none, --padding dynamic")
    files = [args.data / f"{s}.tsv" for s in base.SPLIT_NAMES]
    for path in files:
        if not path.is_file():
            raise SystemExit(f"{path}: missing")
    sha = base.data_sha256(files)
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    splits = [read_pairs(p) for p in files]
    if args.max_train_examples is not None:
        splits[0] = tuple(column[: args.max_train_examples] for column in splits[0])
    train, validation, test = (Pairs(tokenizer, *s, args.max_len) for s in splits)
    base.log(f"data {len(train)} / {len(validation)} / {len(test)} sentence pairs")

    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(args.model), num_labels=1, problem_type="regression", dtype=torch.float32
    )
    run = base.fine_tune(
        model,
        args,
        len(train),
        train.batch,
        lambda: evaluate(model, validation, args.eval_batch_size),
        "neg_loss",
        lambda m: f"validation MSE {m['mse']:.4f} Pearson {m['pearson']:.4f} Spearman {m['spearman']:.4f}",
    )
    best_epoch = run["best_epoch"]
    final_test = evaluate(model, test, args.eval_batch_size)
    base.log(
        f"best epoch {best_epoch}: test Pearson {final_test['pearson']:.4f} Spearman {final_test['spearman']:.4f}; "
        f"train {run['train_seconds']:.1f}s"
    )
    result = {
        "task": "regression",
        "recipe": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "versions": base.versions(),
        "data_sha256": sha,
        "examples": {"train": len(train), "validation": len(validation), "test": len(test)},
        "steps": run["steps"],
        "warmup_steps": run["warmup_steps"],
        "history": run["history"],
        "best_epoch": best_epoch,
        "validation": run["history"][best_epoch - 1]["validation"],
        "test": final_test,
        "train_seconds": run["train_seconds"],
        "train_step_seconds": run["train_step_seconds"],
        "total_seconds": time.perf_counter() - base.T_START,
        "threads": torch.get_num_threads(),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    base.write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
