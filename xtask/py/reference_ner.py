#!/usr/bin/env python3
"""The token-classification reference for `cargo xtask compare` (conll2003, atis-slots): fine-tune a
BERT checkpoint with PyTorch + transformers the way transformers' `run_ner.py` does, with the plain
loop of `reference_train.py` (same seeding, sampler, AdamW groups, schedule, clipping, evaluation
each epoch, best model by validation F1 kept and evaluated on test):

- data: ft's packaged `{train,validation,test}.jsonl` (`{"tokens": [...], "tags": [...]}`); the
  label list is `labels.txt` when the dataset ships one, else the sorted tags of the training file
  (run_ner's `get_label_list`);
- `tokenize_and_align_labels`: `tokenizer(words, is_split_into_words=True, truncation=True,
  max_length)`; the first sub-token of each word gets the word's tag, the other sub-tokens and the
  special tokens -100 (`label_all_tokens=False`);
- `AutoModelForTokenClassification`; the loss is transformers' (cross-entropy over labels != -100);
- metrics as run_ner's `compute_metrics`: predictions and labels at positions whose label != -100,
  mapped to tag names, `seqeval.metrics` precision / recall / F1 (micro, default mode) and accuracy.

Usage: python xtask/py/reference_ner.py --model DIR --data DIR --out result.json [flags of reference_train.py]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_train as base  # noqa: E402  (argument parsing, seeding rules, versions, freezing)

import numpy as np  # noqa: E402
import seqeval.metrics  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForTokenClassification, AutoTokenizer  # noqa: E402

IGNORE = -100


def splits(data: Path) -> list[Path]:
    ext = "conll" if (data / "train.conll").is_file() else "jsonl"
    return [data / f"{s}.{ext}" for s in ("train", "validation", "test")]


def read_rows(path: Path) -> list[tuple[list[str], list[str]]]:
    """JSONL `{"tokens", "tags"}`, or CoNLL columns (word first, tag last, blank line between
    sentences, -DOCSTART- skipped)."""
    rows = []
    with path.open(encoding="utf-8") as f:
        if path.suffix == ".jsonl":
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    rows.append((obj["tokens"], obj.get("tags", obj.get("ner_tags"))))
            return rows
        words, tags = [], []
        for line in f:
            cols = line.split()
            if not cols or cols[0] == "-DOCSTART-":
                if words:
                    rows.append((words, tags))
                words, tags = [], []
                continue
            words.append(cols[0])
            tags.append(cols[-1])
        if words:
            rows.append((words, tags))
    return rows


class Encoded:
    """One split, tokenized and aligned once (truncated, unpadded)."""

    def __init__(self, tokenizer, rows, label2id: dict[str, int], max_len: int):
        enc = tokenizer([w for w, _ in rows], is_split_into_words=True, truncation=True, max_length=max_len)
        self.input_ids = enc["input_ids"]
        self.token_type_ids = enc.get("token_type_ids") or [[0] * len(x) for x in self.input_ids]
        self.labels = []
        for i, (_, tags) in enumerate(rows):
            previous = None
            row = []
            for word in enc.word_ids(batch_index=i):
                if word is None or word == previous:
                    row.append(IGNORE)
                else:
                    row.append(label2id[tags[word]])
                previous = word
            self.labels.append(row)
        self.pad_id = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        width = max(len(self.input_ids[i]) for i in indices)
        out = {
            "input_ids": torch.full((len(indices), width), self.pad_id, dtype=torch.long),
            "token_type_ids": torch.zeros((len(indices), width), dtype=torch.long),
            "attention_mask": torch.zeros((len(indices), width), dtype=torch.long),
            "labels": torch.full((len(indices), width), IGNORE, dtype=torch.long),
        }
        for r, i in enumerate(indices):
            n = len(self.input_ids[i])
            out["input_ids"][r, :n] = torch.tensor(self.input_ids[i])
            out["token_type_ids"][r, :n] = torch.tensor(self.token_type_ids[i])
            out["attention_mask"][r, :n] = 1
            out["labels"][r, :n] = torch.tensor(self.labels[i])
        return out


def evaluate(model, data: Encoded, batch_size: int, names: list[str]) -> dict:
    model.eval()
    y_true, y_pred = [], []
    loss_sum, counted = 0.0, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = list(range(start, min(start + batch_size, len(data))))
            batch = data.batch(idx)
            out = model(**batch)
            keep = batch["labels"] != IGNORE
            n = int(keep.sum())
            loss_sum += float(out.loss) * n
            counted += n
            pred = out.logits.argmax(-1)
            for r in range(len(idx)):
                k = keep[r]
                y_true.append([names[int(x)] for x in batch["labels"][r][k]])
                y_pred.append([names[int(x)] for x in pred[r][k]])
    return {
        "loss": loss_sum / max(counted, 1),
        "precision": float(seqeval.metrics.precision_score(y_true, y_pred)),
        "recall": float(seqeval.metrics.recall_score(y_true, y_pred)),
        "f1": float(seqeval.metrics.f1_score(y_true, y_pred)),
        "accuracy": float(seqeval.metrics.accuracy_score(y_true, y_pred)),
        "examples": len(data),
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    args = base.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.freeze != "none" or args.padding != "dynamic" or args.max_train_examples is not None:
        raise SystemExit("reference_ner.py runs the issue's recipe only: --freeze none, --padding dynamic, all rows")
    files = splits(args.data)
    for path in files:
        if not path.is_file():
            raise SystemExit(f"{path}: missing")
    sha = base.hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    train_rows, val_rows, test_rows = (read_rows(p) for p in files)
    label_file = args.data / "labels.txt"
    if label_file.is_file():
        names = [line for line in label_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        names = sorted({t for _, tags in train_rows for t in tags})
    label2id = {n: i for i, n in enumerate(names)}

    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    train, validation, test = (Encoded(tokenizer, rows, label2id, args.max_len) for rows in (train_rows, val_rows, test_rows))
    base.log(f"data {len(train)} / {len(validation)} / {len(test)} sentences, {len(names)} labels")

    torch.manual_seed(args.seed)
    model = AutoModelForTokenClassification.from_pretrained(
        str(args.model),
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id=label2id,
        dtype=torch.float32,
    )
    run = base.fine_tune(
        model, args, len(train), train.batch, lambda: evaluate(model, validation, args.eval_batch_size, names), "f1", lambda m: f"validation F1 {m['f1']:.4f}"
    )
    history, best_epoch, train_seconds = run["history"], run["best_epoch"], run["train_seconds"]
    total_steps, warmup_steps, step_seconds = run["steps"], run["warmup_steps"], run["train_step_seconds"]
    final_test = evaluate(model, test, args.eval_batch_size, names)
    base.log(f"best epoch {best_epoch}: test F1 {final_test['f1']:.4f}; train {train_seconds:.1f}s")
    result = {
        "task": "token-classification",
        "recipe": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "versions": {**base.versions(), "seqeval": "1.2.2"},
        "data_sha256": sha,
        "labels": names,
        "examples": {"train": len(train), "validation": len(validation), "test": len(test)},
        "steps": total_steps,
        "warmup_steps": warmup_steps,
        "history": history,
        "best_epoch": best_epoch,
        "validation": history[best_epoch - 1]["validation"],
        "test": final_test,
        "train_seconds": train_seconds,
        "train_step_seconds": step_seconds,
        "total_seconds": time.perf_counter() - base.T_START,
        "threads": torch.get_num_threads(),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    base.write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
