#!/usr/bin/env python3
"""The reference for `cargo xtask compare`: fine-tune a BERT checkpoint with PyTorch + transformers.

It follows the semantics of transformers' `Trainer` (as `run_classification.py` drives it) with a plain
PyTorch loop, because the pinned stack has no `accelerate` (which `Trainer` needs):

- `torch.manual_seed(seed)` before the model is built, so the fresh classifier is seeded;
- each epoch a `RandomSampler`-style permutation from a `torch.Generator` seeded with `seed + epoch`
  (what accelerate's seedable sampler does), batches of `--batch-size`, the last one partial;
- AdamW (`torch.optim.AdamW`, betas 0.9/0.999, eps 1e-8) with two parameter groups: no weight decay on
  names containing "bias" or "LayerNorm.weight"; frozen parameters are left out;
- `get_linear_schedule_with_warmup` with `ceil(warmup_ratio * total_steps)` warmup steps;
- `clip_grad_norm_(max_grad_norm)` before every optimizer step, then `scheduler.step()`, `zero_grad()`;
- `model.train()` while training (dropout on), `model.eval()` + `torch.no_grad()` to evaluate;
- validation at the end of every epoch; the best model by validation accuracy (strictly greater wins,
  so a tie keeps the earlier epoch) is kept (`load_best_model_at_end`) and evaluated on the test set.

Usage (normally through `cargo xtask compare <dataset>`):

    python xtask/py/reference_train.py --model DIR --data DIR --out result.json \
        [--epochs 3 --lr 5e-5 --batch-size 32 --max-len 64 --warmup-ratio 0.1 --weight-decay 0.01 \
         --seed 42 --max-grad-norm 1.0 --freeze none --padding dynamic --threads N \
         --max-train-examples N]

`--data DIR` holds train.tsv, validation.tsv and test.tsv with the header `label<TAB>text`, written
literally (no quoting), or train.jsonl, validation.jsonl and test.jsonl with rows `{"text": ...,
"label": ...}`. Labels are those of `labels.txt` when the directory has one (a packaged dataset whose
test split has labels its training split lacks, as ATIS), else the sorted unique names of the training
file (as ft does). A JSONL label that is a list makes the task multi-label, as in ft: transformers'
`problem_type="multi_label_classification"` (BCE-with-logits on multi-hot targets), a class predicted
when its logit is above 0 (sigmoid > 0.5); `accuracy` is then scikit-learn's `accuracy_score` on the
indicator matrices (subset accuracy: every class of the row right), `macro_f1` and `micro_f1` its
`f1_score`, and the best epoch is the one with the highest validation accuracy, as for single labels.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

# Quiet, offline, CPU-only, before torch/transformers are imported.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, hamming_loss  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

# The load report (a fresh classifier is expected) and the progress bars would only be noise.
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

SPLIT_NAMES = ("train", "validation", "test")
NO_DECAY = ("bias", "LayerNorm.weight")


def log(message: str) -> None:
    print(f"[reference {time.perf_counter() - T_START:7.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="HuggingFace model directory")
    p.add_argument("--data", required=True, type=Path, help="directory with train/validation/test.tsv")
    p.add_argument("--out", required=True, type=Path, help="result JSON file")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--freeze", default="none", help="none | encoder | embeddings | bottom:N")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--padding", choices=("dynamic", "max_length"), default="dynamic")
    p.add_argument("--max-train-examples", type=int, default=None, help="keep the first N training rows")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.eval_batch_size < 1 or args.max_len < 3:
        p.error("--epochs and the batch sizes must be >= 1, --max-len >= 3")
    if args.max_train_examples is not None and args.max_train_examples < 1:
        p.error("--max-train-examples must be >= 1")
    parse_freeze(args.freeze)  # fail early on a bad value
    return args


def parse_freeze(spec: str) -> tuple[str, int]:
    if spec in ("none", "encoder", "embeddings"):
        return spec, 0
    if spec.startswith("bottom:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            n = -1
        if n >= 0:
            return "bottom", n
    raise SystemExit(f"--freeze {spec}: expected none, encoder, embeddings or bottom:N")


def read_tsv(path: Path) -> tuple[list[str], list[str]]:
    """Returns (labels, texts) of a `label<TAB>text` file written without quoting."""
    labels: list[str] = []
    texts: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise SystemExit(f"{path}: empty file")
        try:
            li, ti = header.index("label"), header.index("text")
        except ValueError:
            raise SystemExit(f"{path}: header {header!r} lacks the columns label and text") from None
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise SystemExit(f"{path}:{lineno}: {len(row)} fields, expected {len(header)}")
            labels.append(row[li])
            texts.append(row[ti])
    return labels, texts


def read_jsonl(path: Path) -> tuple[list, list[str]]:
    """Returns (labels, texts) of a JSONL file of `{"text": ..., "label": ...}` rows; a label is a name or
    a list of names (multi-label)."""
    labels: list = []
    texts: list[str] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{lineno}: {e}") from None
            if "text" not in row or "label" not in row:
                raise SystemExit(f"{path}:{lineno}: a row needs the keys text and label")
            labels.append(row["label"])
            texts.append(row["text"])
    return labels, texts


def split_files(data_dir: Path) -> list[Path]:
    """train/validation/test of the directory: .jsonl when it has train.jsonl, else .tsv (as xtask)."""
    ext = "jsonl" if (data_dir / "train.jsonl").is_file() else "tsv"
    return [data_dir / f"{name}.{ext}" for name in SPLIT_NAMES]


def read_split(path: Path) -> tuple[list, list[str]]:
    return read_jsonl(path) if path.suffix == ".jsonl" else read_tsv(path)


def data_sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.read_bytes())
    return h.hexdigest()


def freeze_model(model: torch.nn.Module, spec: str) -> None:
    kind, n = parse_freeze(spec)
    bert = model.bert
    if kind == "encoder":
        modules = [bert]
    elif kind == "embeddings":
        modules = [bert.embeddings]
    elif kind == "bottom":
        layers = bert.encoder.layer
        if n > len(layers):
            raise SystemExit(f"--freeze {spec}: the model has only {len(layers)} layers")
        modules = [bert.embeddings, *layers[:n]]
    else:
        modules = []
    for module in modules:
        for param in module.parameters():
            param.requires_grad_(False)


class Encoded:
    """One split, tokenized once (truncated, unpadded)."""

    def __init__(self, tokenizer, texts: list[str], label_ids: list, max_len: int):
        enc = tokenizer(texts, truncation=True, max_length=max_len, padding=False)
        self.input_ids: list[list[int]] = enc["input_ids"]
        self.token_type_ids: list[list[int]] = enc.get("token_type_ids") or [[0] * len(x) for x in self.input_ids]
        self.labels = label_ids
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: list[int], pad_to: int | None) -> dict[str, torch.Tensor]:
        width = pad_to if pad_to is not None else max(len(self.input_ids[i]) for i in indices)
        ids = torch.full((len(indices), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(indices), width), dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            n = len(self.input_ids[i])
            ids[row, :n] = torch.tensor(self.input_ids[i], dtype=torch.long)
            types[row, :n] = torch.tensor(self.token_type_ids[i], dtype=torch.long)
            mask[row, :n] = 1
        rows = [self.labels[i] for i in indices]
        # Multi-label targets are multi-hot floats (BCE-with-logits), single-label ones class ids.
        labels = torch.tensor(rows, dtype=torch.float32 if isinstance(rows[0], list) else torch.long)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels}


def evaluate(model, data: Encoded, batch_size: int, pad_to: int | None, num_labels: int) -> dict:
    model.eval()
    multi_label = isinstance(data.labels[0], list)
    preds: list = []
    total_loss = 0.0
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = list(range(start, min(start + batch_size, len(data))))
            out = model(**data.batch(idx, pad_to))
            total_loss += float(out.loss) * len(idx)
            if multi_label:
                preds.extend((out.logits > 0).int().tolist())
            else:
                preds.extend(out.logits.argmax(dim=-1).tolist())
    y = np.asarray(data.labels)
    p = np.asarray(preds)
    result = {"loss": total_loss / len(data), "accuracy": float(accuracy_score(y, p))}
    if multi_label:
        y = y.astype(int)
        result["macro_f1"] = float(f1_score(y, p, average="macro", zero_division=0))
        result["micro_f1"] = float(f1_score(y, p, average="micro", zero_division=0))
        result["hamming_loss"] = float(hamming_loss(y, p))
        per_class = f1_score(y, p, average=None, zero_division=0)
    else:
        result["macro_f1"] = float(f1_score(y, p, average="macro", labels=list(range(num_labels)), zero_division=0))
        per_class = f1_score(y, p, average=None, labels=list(range(num_labels)), zero_division=0)
    # Each class's F1 in label-id order (`labels` of the result names them).
    result["per_class_f1"] = [float(x) for x in per_class]
    result["examples"] = len(data)
    result["seconds"] = time.perf_counter() - t0
    return result


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def fine_tune(model, args, n_train: int, batch_of, evaluate_fn, metric: str, describe) -> dict:
    """The loop every reference runs (this script's, reference_ner.py's, reference_qa.py's): AdamW over the
    trainable parameters in two groups (no decay on NO_DECAY names), a linear schedule with
    `ceil(warmup_ratio * steps)` warmup steps, each epoch a permutation seeded with `seed + epoch` cut into
    batches (`batch_of(indices)` → model inputs with labels), clipping, then `evaluate_fn()` on validation;
    the epoch with the highest `metric` (strictly greater: a tie keeps the earlier) is loaded back into
    `model` at the end. Returns the history, the best epoch, step counts and times."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not any(nd in n for nd in NO_DECAY)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in named if any(nd in n for nd in NO_DECAY)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(n_train / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = math.ceil(total_steps * args.warmup_ratio)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    params = [p for _, p in named]
    history, best_state, best_value, best_epoch = [], None, -math.inf, None
    step_seconds = 0.0
    step = 0
    model.zero_grad(set_to_none=True)
    t_train = time.perf_counter()
    for epoch in range(args.epochs):
        generator = torch.Generator()
        generator.manual_seed(args.seed + epoch)
        order = torch.randperm(n_train, generator=generator).tolist()
        model.train()
        t_epoch = time.perf_counter()
        loss_sum = 0.0
        for start in range(0, len(order), args.batch_size):
            loss = model(**batch_of(order[start : start + args.batch_size])).loss
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            model.zero_grad(set_to_none=True)
            step += 1
            loss_sum += float(loss.detach())
        epoch_seconds = time.perf_counter() - t_epoch
        step_seconds += epoch_seconds
        metrics = evaluate_fn()
        history.append(
            {
                "epoch": epoch + 1,
                "step": step,
                "train_loss": loss_sum / steps_per_epoch,
                "train_seconds": epoch_seconds,
                "validation": metrics,
            }
        )
        log(
            f"epoch {epoch + 1}/{args.epochs}: train loss {loss_sum / steps_per_epoch:.4f} in {epoch_seconds:.1f}s "
            f"({n_train / epoch_seconds:.1f} ex/s), {describe(metrics)}"
        )
        if metrics[metric] > best_value:
            best_value, best_epoch, best_state = metrics[metric], epoch + 1, copy.deepcopy(model.state_dict())
    train_seconds = time.perf_counter() - t_train
    model.load_state_dict(best_state)
    return {
        "history": history,
        "best_epoch": best_epoch,
        "steps": total_steps,
        "warmup_steps": warmup_steps,
        "train_seconds": train_seconds,
        "train_step_seconds": step_seconds,
    }


def write_result(out: Path, result: dict) -> None:
    """Writes the result JSON atomically (temp file + rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    log(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    files = split_files(args.data)
    for path in files:
        if not path.is_file():
            raise SystemExit(f"{path}: missing")
    sha = data_sha256(files)
    train_labels, train_texts = read_split(files[0])
    if args.max_train_examples is not None:
        train_labels = train_labels[: args.max_train_examples]
        train_texts = train_texts[: args.max_train_examples]
    val_labels, val_texts = read_split(files[1])
    test_labels, test_texts = read_split(files[2])
    multi_label = any(isinstance(x, list) for x in train_labels)
    as_sets = [[x if isinstance(x, list) else [x] for x in ls] for ls in (train_labels, val_labels, test_labels)]
    labels_txt = args.data / "labels.txt"
    if labels_txt.is_file():
        names = [line.strip() for line in labels_txt.read_text(encoding="utf-8").splitlines() if line.strip()]
        known = "labels.txt"
    else:
        names = sorted({n for row in as_sets[0] for n in row})
        known = "train"
    if len(names) < 2:
        raise SystemExit(f"the training data has {len(names)} label(s) {names}; need at least 2")
    label2id = {n: i for i, n in enumerate(names)}
    id2label = {i: n for n, i in label2id.items()}
    for split, rows in zip(SPLIT_NAMES, as_sets):
        unknown = sorted({n for row in rows for n in row} - set(names))
        if unknown:
            raise SystemExit(f"{split}: labels {unknown} do not occur in {known}")

    def targets(labels: list) -> list:
        if not multi_label:
            return [label2id[x] for x in labels]
        hot = []
        for x in labels:
            row = [0.0] * len(names)
            for n in x if isinstance(x, list) else [x]:
                row[label2id[n]] = 1.0
            hot.append(row)
        return hot

    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    t_tok = time.perf_counter()
    train = Encoded(tokenizer, train_texts, targets(train_labels), args.max_len)
    validation = Encoded(tokenizer, val_texts, targets(val_labels), args.max_len)
    test = Encoded(tokenizer, test_texts, targets(test_labels), args.max_len)
    log(
        f"data {len(train)} train / {len(validation)} validation / {len(test)} test, "
        f"{'multi-label, ' if multi_label else ''}labels {names}, "
        f"tokenized in {time.perf_counter() - t_tok:.1f}s"
    )
    pad_to = args.max_len if args.padding == "max_length" else None

    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(args.model),
        num_labels=len(names),
        id2label=id2label,
        label2id=label2id,
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
        dtype=torch.float32,
    )
    freeze_model(model, args.freeze)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    trainable = sum(p.numel() for _, p in named)
    total = sum(p.numel() for p in model.parameters())
    log(
        f"model {args.model}: {trainable:,} of {total:,} parameters trainable (--freeze {args.freeze}), "
        f"fresh classifier, {threads} threads"
    )

    def describe(m: dict) -> str:
        return f"validation accuracy {m['accuracy']:.4f} macro-F1 {m['macro_f1']:.4f}"

    run = fine_tune(
        model,
        args,
        len(train),
        lambda idx: train.batch(idx, pad_to),
        lambda: evaluate(model, validation, args.eval_batch_size, pad_to, len(names)),
        "accuracy",
        describe,
    )
    history, best_epoch, total_steps, warmup_steps = run["history"], run["best_epoch"], run["steps"], run["warmup_steps"]
    train_seconds, step_seconds = run["train_seconds"], run["train_step_seconds"]
    # Evaluation is deterministic: the best epoch's validation metrics are those of the kept model.
    final_validation = history[best_epoch - 1]["validation"]
    final_test = evaluate(model, test, args.eval_batch_size, pad_to, len(names))
    total_seconds = time.perf_counter() - T_START
    log(
        f"best epoch {best_epoch}: test accuracy {final_test['accuracy']:.4f} macro-F1 {final_test['macro_f1']:.4f}; "
        f"train {train_seconds:.1f}s, total {total_seconds:.1f}s"
    )

    result = {
        "recipe": {
            "model": str(args.model),
            "data": str(args.data),
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "eval_batch_size": args.eval_batch_size,
            "max_len": args.max_len,
            "warmup_ratio": args.warmup_ratio,
            "weight_decay": args.weight_decay,
            "seed": args.seed,
            "max_grad_norm": args.max_grad_norm,
            "freeze": args.freeze,
            "threads": args.threads,
            "padding": args.padding,
            "max_train_examples": args.max_train_examples,
        },
        "versions": versions(),
        "data_sha256": sha,
        "labels": names,
        "multi_label": multi_label,
        "examples": {"train": len(train), "validation": len(validation), "test": len(test)},
        "parameters": {"trainable": trainable, "total": total},
        "steps": total_steps,
        "warmup_steps": warmup_steps,
        "history": history,
        "best_epoch": best_epoch,
        "validation": final_validation,
        "test": final_test,
        # The training loop, per-epoch validation included (as ft's train_seconds).
        "train_seconds": train_seconds,
        # Forward/backward/optimizer steps only.
        "train_step_seconds": step_seconds,
        "train_examples_per_second": len(train) * args.epochs / step_seconds if step_seconds > 0 else None,
        # The whole process: imports, tokenization, model loading, training, final evaluations.
        "total_seconds": total_seconds,
        "threads": threads,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
