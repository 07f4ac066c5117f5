#!/usr/bin/env python3
"""The question-answering reference for `cargo xtask compare` (atis-qa, atis-qa-long, or any directory
of SQuAD JSON Lines): fine-tune a BERT checkpoint with PyTorch + transformers the way transformers'
`run_qa.py` does, with the plain loop of `reference_train.py` (same seeding, sampler, AdamW groups,
schedule, clipping, evaluation each epoch, best model by validation F1 kept and evaluated on test):

- data: `{train,validation,test}.jsonl` rows as `datasets` writes SQuAD (`{"id", "title", "context",
  "question", "answers": {"text": [...], "answer_start": [...]}}`);
- `prepare_train_features`: questions left-stripped, `tokenizer(question, context,
  truncation="only_second", max_length, stride=doc_stride, return_overflowing_tokens=True,
  return_offsets_mapping=True)`; each window labelled with the first answer's start and end token, or
  [CLS] (0, 0) when the window does not hold all of it — run_qa's loops (`run_qa_positions` in
  generate_fixtures.py, checked there against the golden windows), including their scan past the
  context (an answer in the window's last context token labels the [SEP] after it);
- `prepare_validation_features`: the same windows, offsets kept only for context tokens;
- batches padded to their longest window (run_qa pads every window to max_length by default; dynamic
  padding is what ft does, and the two differ only in how many padding logits enter the softmax);
- `AutoModelForQuestionAnswering`; the loss is transformers' (mean of start and end cross-entropies);
- metrics as run_qa: `postprocess_qa_predictions` (the 20 best starts × 20 best ends per window, spans
  of at most 30 tokens inside the context, score = start + end logit, best over windows), then SQuAD
  v1.1's exact match and F1 (×100) — both restated in `generate_fixtures.py` and checked there against
  utils_qa and the official script.

Usage: python xtask/py/reference_qa.py --model DIR --data DIR --out result.json [--doc-stride 128]
       [flags of reference_train.py]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_train as base  # noqa: E402  (argument parsing, seeding rules, versions)

import torch  # noqa: E402
from generate_fixtures import run_qa_positions, squad_v11_evaluate, utils_qa_postprocess  # noqa: E402
from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: E402

N_BEST = 20
MAX_ANSWER_LENGTH = 30


def read_rows(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


class Windows:
    """One split cut into windows once (unpadded), as run_qa's prepare_*_features."""

    def __init__(self, tokenizer, rows: list[dict], max_len: int, stride: int):
        enc = tokenizer(
            [r["question"].lstrip() for r in rows],
            [r["context"] for r in rows],
            truncation="only_second",
            max_length=max_len,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        self.input_ids = enc["input_ids"]
        self.token_type_ids = enc["token_type_ids"]
        self.example = enc["overflow_to_sample_mapping"]
        self.starts, self.ends, self.offsets = [], [], []
        for i, offsets in enumerate(enc["offset_mapping"]):
            ids = self.input_ids[i]
            cls_index = ids.index(tokenizer.cls_token_id)
            sequence_ids = enc.sequence_ids(i)
            answers = rows[self.example[i]]["answers"]
            # prepare_train_features (its loops, restated once in generate_fixtures.py)
            start_char = answers["answer_start"][0] if answers["answer_start"] else None
            end_char = start_char + len(answers["text"][0]) if start_char is not None else None
            start, end = run_qa_positions(offsets, sequence_ids, cls_index, start_char, end_char)
            self.starts.append(start)
            self.ends.append(end)
            # prepare_validation_features
            self.offsets.append([tuple(o) if sequence_ids[k] == 1 else None for k, o in enumerate(offsets)])
        self.rows = rows
        self.pad_id = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.input_ids)

    def batch(self, indices: list[int], labels: bool = True) -> dict[str, torch.Tensor]:
        width = max(len(self.input_ids[i]) for i in indices)
        out = {
            "input_ids": torch.full((len(indices), width), self.pad_id, dtype=torch.long),
            "token_type_ids": torch.zeros((len(indices), width), dtype=torch.long),
            "attention_mask": torch.zeros((len(indices), width), dtype=torch.long),
        }
        for r, i in enumerate(indices):
            n = len(self.input_ids[i])
            out["input_ids"][r, :n] = torch.tensor(self.input_ids[i])
            out["token_type_ids"][r, :n] = torch.tensor(self.token_type_ids[i])
            out["attention_mask"][r, :n] = 1
        if labels:
            out["start_positions"] = torch.tensor([self.starts[i] for i in indices], dtype=torch.long)
            out["end_positions"] = torch.tensor([self.ends[i] for i in indices], dtype=torch.long)
        return out


def evaluate(model, data: Windows, batch_size: int) -> dict:
    """Loss over windows (each window's own tokens), then run_qa's answers and SQuAD v1.1 scores."""
    model.eval()
    t0 = time.perf_counter()
    per_example: list[list[dict]] = [[] for _ in data.rows]
    loss_sum = 0.0
    ce = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = list(range(start, min(start + batch_size, len(data))))
            out = model(**data.batch(idx, labels=False))
            for r, i in enumerate(idx):
                n = len(data.input_ids[i])
                s, e = out.start_logits[r, :n], out.end_logits[r, :n]
                loss_sum += float(
                    (ce(s[None], torch.tensor([data.starts[i]])) + ce(e[None], torch.tensor([data.ends[i]]))) / 2
                )
                per_example[data.example[i]].append(
                    {"start_logits": s.tolist(), "end_logits": e.tolist(), "offsets": data.offsets[i]}
                )
    predictions, windows_used = [], {}
    for row, windows in zip(data.rows, per_example):
        best = utils_qa_postprocess(row["context"], windows, N_BEST, MAX_ANSWER_LENGTH)[0]
        predictions.append(best["text"])
        key = "none" if best["window"] is None else str(best["window"])
        windows_used[key] = windows_used.get(key, 0) + 1
    scores = squad_v11_evaluate(predictions, [r["answers"]["text"] for r in data.rows])
    return {
        "loss": loss_sum / max(len(data), 1),
        "exact_match": scores["exact_match"],
        "f1": scores["f1"],
        "questions": len(data.rows),
        "windows": len(data),
        "answers_by_window": windows_used,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stride = 128
    if "--doc-stride" in argv:
        k = argv.index("--doc-stride")
        stride = int(argv[k + 1])
        del argv[k : k + 2]
    max_eval = None  # the first N validation and test questions (xtask's --max-eval-examples)
    if "--max-eval-examples" in argv:
        k = argv.index("--max-eval-examples")
        max_eval = int(argv[k + 1])
        del argv[k : k + 2]
    args = base.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.freeze != "none" or args.padding != "dynamic":
        raise SystemExit("reference_qa.py runs the issue's recipe only: --freeze none, --padding dynamic")
    files = [args.data / f"{s}.jsonl" for s in ("train", "validation", "test")]
    for path in files:
        if not path.is_file():
            raise SystemExit(f"{path}: missing")
    sha = base.hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    train_rows = read_rows(files[0])[: args.max_train_examples]  # the first N questions, as ft's file
    train, validation, test = (
        Windows(tokenizer, rows, args.max_len, stride) for rows in (train_rows, read_rows(files[1])[:max_eval], read_rows(files[2])[:max_eval])
    )
    base.log(
        f"data {len(train.rows)} / {len(validation.rows)} / {len(test.rows)} questions in "
        f"{len(train)} / {len(validation)} / {len(test)} windows"
    )

    torch.manual_seed(args.seed)
    model = AutoModelForQuestionAnswering.from_pretrained(str(args.model), dtype=torch.float32)
    run = base.fine_tune(
        model, args, len(train), train.batch, lambda: evaluate(model, validation, args.eval_batch_size), "f1", lambda m: f"validation EM {m['exact_match']:.2f} F1 {m['f1']:.2f}"
    )
    history, best_epoch, train_seconds = run["history"], run["best_epoch"], run["train_seconds"]
    total_steps, warmup_steps, step_seconds = run["steps"], run["warmup_steps"], run["train_step_seconds"]
    final_test = evaluate(model, test, args.eval_batch_size)
    base.log(f"best epoch {best_epoch}: test EM {final_test['exact_match']:.2f} F1 {final_test['f1']:.2f}; train {train_seconds:.1f}s")
    result = {
        "task": "question-answering",
        "recipe": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "doc_stride": stride, "max_eval_examples": max_eval},
        "versions": base.versions(),
        "data_sha256": sha,
        "examples": {"train": len(train.rows), "validation": len(validation.rows), "test": len(test.rows)},
        "windows": {"train": len(train), "validation": len(validation), "test": len(test)},
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
