#!/usr/bin/env python3
"""Reference fixtures for ft, computed with the pinned PyTorch / transformers stack.

Run through `cargo xtask fixtures` (which creates the virtualenv from `xtask/requirements.txt` and
resolves the real MiniLM model), or directly:

    python xtask/py/generate_fixtures.py generate --out fixtures --minilm DIR
    python xtask/py/generate_fixtures.py verify DIR [--golden fixtures/tiny_golden.safetensors]
    python xtask/py/generate_fixtures.py train-parity [--out fixtures]   # (also part of generate)
    python xtask/py/generate_fixtures.py tokenizer-goldens --minilm DIR  # (also part of generate)
    python xtask/py/generate_fixtures.py token-goldens [--out fixtures]  # (also part of generate)
    python xtask/py/generate_fixtures.py verify DIR --task token-classification
    python xtask/py/generate_fixtures.py align-goldens --minilm DIR      # (also part of generate)

`tokenizer-goldens` and `align-goldens` need only the pinned `tokenizers` package (no torch): they run in a small
venv, `python -m venv V && V/bin/pip install tokenizers==<pin of xtask/requirements.txt>` (plus the pinned `numpy`
for `align-goldens`: tokenizers' pre-split input path asks numpy whether the words are an array). Every other
subcommand needs the whole stack of `xtask/requirements.txt`.

Everything here is deterministic: seeded, CPU only, float32, `model.eval()`, deterministic torch
algorithms, eager attention. Rerunning `generate` with the same pinned stack reproduces the same bytes
(see `fixtures/manifest.json` for the sha256 of every file).

Subcommands are registered with `@subcommand`; a later issue adds one by writing a function that
takes `args`, plus a function that adds its arguments to the parser.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

# Quiet, offline, CPU-only, before torch/transformers are imported.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import tokenizers  # noqa: E402

# The rest of the reference stack; `tokenizer-goldens` runs without it (see `main`).
try:
    import numpy as np  # noqa: E402
    import safetensors  # noqa: E402
    import safetensors.torch  # noqa: E402
    import torch  # noqa: E402
    import transformers  # noqa: E402
    from transformers import (  # noqa: E402
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
        BertModel,
        BertTokenizerFast,
    )

    MISSING_STACK: ImportError | None = None
except ImportError as _e:
    MISSING_STACK = _e

SEED = 0
# Seed of the noise added to every parameter after init (so LayerNorm gamma/beta and biases are not 1/0).
PERTURB_SEED = 1
PERTURB_STD = 0.02
# Init std of the tiny model's weight matrices. BERT's usual 0.02 is far too small for hidden 32: the
# activations would shrink layer by layer and every input would give nearly the same logits (differing
# by less than the 1e-4 test tolerance). With 0.2 (about 1/sqrt(32)) pre-activations are O(1), attention
# is not uniform and logits differ clearly between inputs, so a loading bug cannot hide under tolerance.
TINY_INIT_STD = 0.2
# Attention implementation for every reference forward (the plain softmax(QK^T/sqrt(d) + mask) V math).
ATTN = "eager"

TINY_MAX_POSITIONS = 64
TINY_LABELS = {0: "negative", 1: "neutral", 2: "positive"}

# Inputs of the tiny-model golden cases. Each entry is (text, text_pair or None, note).
TINY_BATCH = [
    ("The movie was good.", None, "short single sentence"),
    (
        "This film is not great, but the acting was really fine!",
        None,
        "longer single sentence with punctuation and mixed case",
    ),
    ("the movie was bad", "i did not like it at all", "sentence pair (token_type_ids 1 on segment B)"),
    ("x", None, "shortest text: [CLS] x [SEP]"),
    (
        # Far more than 64 tokens; truncated to exactly max_position_embeddings.
        " ".join(
            [
                "the best film i have ever seen, a great story with good acting and a fun plot;",
                "it was so good that i watched it twice (2 times) and i love it - 10 out of 10!",
                "the worst part? none: no bad scenes, nothing boring, just a really great movie.",
            ]
        ),
        None,
        "truncated to exactly 64 tokens (max_position_embeddings)",
    ),
    (
        "Unwatchable, overlong café drama: 3/10 \u2764",
        None,
        "word pieces (##, suffix ##able), accent stripping (cafe), [UNK] for '10' and the emoji",
    ),
]

MINILM_SENTENCES = [
    "A man is playing a guitar.",
    "The weather is lovely today.",
    "Rust is a systems programming language.",
    "I did not like this movie at all.",
]
MINILM_MAX_LENGTH = 128

SUBCOMMANDS: dict[str, tuple] = {}


# Subcommands that need only `tokenizers`, not the whole stack.
TOKENIZERS_ONLY: set[str] = set()


def subcommand(name: str, help: str, add_args, tokenizers_only: bool = False):
    """Registers `fn(args) -> int` as subcommand `name`; `add_args(parser)` declares its arguments.
    `tokenizers_only`: it imports nothing of the stack but `tokenizers`."""

    def register(fn):
        SUBCOMMANDS[name] = (help, add_args, fn)
        if tokenizers_only:
            TOKENIZERS_ONLY.add(name)
        return fn

    return register


# ----------------------------------------------------------------------------------------------------
# Determinism and small helpers
# ----------------------------------------------------------------------------------------------------


def set_determinism(seed: int = SEED) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    # One thread: matmul blocking (hence the last bits of the goldens) depends on the thread count.
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def say(msg: str) -> None:
    print(msg, flush=True)


def describe(path: Path) -> str:
    return f"{path} ({path.stat().st_size} bytes)"


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"wrote {describe(path)}")


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    # safetensors keeps __metadata__ in a hash map: with more than one entry the header's byte order
    # changes from run to run, so goldens carry only {"format": "pt"} (details go to manifest.json).
    tensors = {k: v.detach().contiguous().cpu() for k, v in sorted(tensors.items())}
    for k, v in tensors.items():
        assert v.dtype in (torch.float32, torch.int64), f"{k}: unexpected dtype {v.dtype}"
    safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt"})
    say(f"wrote {describe(path)}: {len(tensors)} tensors")
    for k, v in tensors.items():
        say(f"    {k:<40} {str(v.dtype).removeprefix('torch.'):<8} {list(v.shape)}")


def tensor_table(path: Path) -> dict[str, str]:
    """`name -> "dtype [shape]"` for every tensor of a safetensors file."""
    with safetensors.safe_open(str(path), "pt") as f:
        return {k: f"{f.get_slice(k).get_dtype()} {f.get_slice(k).get_shape()}" for k in sorted(f.keys())}


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def check_loading_info(what: str, info: dict, allow_unexpected: tuple[str, ...] = ()) -> list[str]:
    """Problems in a `from_pretrained(..., output_loading_info=True)` report (empty when clean)."""
    problems = []
    for key, value in sorted(info.items()):
        if not value:
            continue
        items = sorted(value) if not isinstance(value, str) else [value]
        if key == "unexpected_keys":
            items = [k for k in items if not any(k.endswith(a) for a in allow_unexpected)]
            if not items:
                continue
        problems.append(f"{what}: {key}: {items}")
    return problems


# ----------------------------------------------------------------------------------------------------
# Tiny vocabulary, tokenizer and model
# ----------------------------------------------------------------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
DIGITS = [str(d) for d in range(10)]
PUNCTUATION = [".", ",", "!", "?", "'", '"', "-", "(", ")", ":", ";", "/"]
SUFFIXES = ["##s", "##ed", "##ing", "##ly", "##er", "##able"]
WORDS = (
    "the a an and or but not no is was are were be been it this that i you he she we they "
    "movie film good bad great terrible awful fine boring fun love like hate acting plot story "
    "really very so too best worst ever of to in on with for at all just did do time watch"
).split()


def tiny_vocab() -> list[str]:
    vocab: list[str] = []
    for tok in SPECIALS + LETTERS + DIGITS + PUNCTUATION + ["##" + c for c in LETTERS] + SUFFIXES + WORDS:
        if tok not in vocab:
            vocab.append(tok)
    assert vocab[:5] == SPECIALS
    return vocab


def tiny_tokenizer(vocab_path: Path) -> BertTokenizerFast:
    vocab = {}
    for i, line in enumerate(vocab_path.read_text(encoding="utf-8").splitlines()):
        vocab[line] = i
    tok = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=TINY_MAX_POSITIONS)
    assert tok.pad_token_id == 0 and tok.unk_token_id == 1 and tok.cls_token_id == 2
    assert tok.sep_token_id == 3 and tok.mask_token_id == 4
    return tok


def tiny_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=TINY_MAX_POSITIONS,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        initializer_range=TINY_INIT_STD,
        pad_token_id=0,
        num_labels=3,
        id2label=dict(TINY_LABELS),
        label2id={v: k for k, v in TINY_LABELS.items()},
        problem_type="single_label_classification",
        architectures=["BertForSequenceClassification"],
    )


def tiny_model(vocab_size: int) -> BertForSequenceClassification:
    torch.manual_seed(SEED)
    model = BertForSequenceClassification(tiny_config(vocab_size))
    gen = torch.Generator().manual_seed(PERTURB_SEED)
    with torch.no_grad():
        for _name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * PERTURB_STD)
    model.config._attn_implementation = ATTN
    return model.eval()


def write_tokenizer_files(tok: BertTokenizerFast, vocab_path: Path, out: Path) -> None:
    tok.save_pretrained(str(out))
    # transformers 5 saves tokenizer.json + tokenizer_config.json only; keep the classic files too so
    # loaders that read vocab.txt (and tools that read special_tokens_map.json) find them.
    if not (out / "vocab.txt").exists():
        shutil.copyfile(vocab_path, out / "vocab.txt")
    if not (out / "special_tokens_map.json").exists():
        specials = {
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
        }
        (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")


def list_dir(out: Path) -> None:
    for f in sorted(out.iterdir()):
        say(f"wrote {describe(f)}")


def legacy_name(key: str) -> str:
    """TF-era names: `LayerNorm.weight` -> `LayerNorm.gamma`, `LayerNorm.bias` -> `LayerNorm.beta`."""
    if key.endswith("LayerNorm.weight"):
        return key.removesuffix("weight") + "gamma"
    if key.endswith("LayerNorm.bias"):
        return key.removesuffix("bias") + "beta"
    return key


def encode_case(tok: BertTokenizerFast, items, pad_to: int | None) -> dict[str, torch.Tensor]:
    """Tokenizes each (text, pair) on its own (truncated to the model's max), then pads with 0."""
    rows = []
    for text, pair, _note in items:
        enc = tok(text, pair, truncation=True, max_length=TINY_MAX_POSITIONS, padding=False)
        rows.append((enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]))
    t = pad_to if pad_to is not None else max(len(r[0]) for r in rows)
    out = {k: torch.zeros(len(rows), t, dtype=torch.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
    for i, (ids, tt, am) in enumerate(rows):
        n = len(ids)
        out["input_ids"][i, :n] = torch.tensor(ids)
        out["token_type_ids"][i, :n] = torch.tensor(tt)
        out["attention_mask"][i, :n] = torch.tensor(am)
    return out


def forward_cls(model, inputs) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, return_dict=True)
        bert = model.bert(**inputs, return_dict=True)
    # The classifier head sees the pooler output, and the sequence output is the last hidden state.
    assert torch.equal(out.hidden_states[-1], bert.last_hidden_state)
    return {
        "last_hidden_state": bert.last_hidden_state,
        "pooler_output": bert.pooler_output,
        "logits": out.logits,
    }


def max_abs(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    d = (a - b).abs()
    if mask is not None:
        d = d[mask.bool()]
    return float(d.max()) if d.numel() else 0.0


def generate_tiny(out: Path) -> tuple[dict, dict]:
    """Writes fixtures/tiny*, fixtures/tiny_golden.safetensors. Returns (cases, info) for the manifest."""
    work = Path(tempfile.mkdtemp(prefix="ft-fixtures-"))
    vocab = tiny_vocab()
    vocab_path = work / "vocab.txt"
    vocab_path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    say(f"tiny vocab: {len(vocab)} entries")
    tok = tiny_tokenizer(vocab_path)
    model = tiny_model(len(vocab))

    # --- fixtures/tiny: what transformers' save_pretrained writes --------------------------------
    tiny = fresh_dir(out / "tiny")
    model.save_pretrained(str(tiny), safe_serialization=True)
    write_tokenizer_files(tok, vocab_path, tiny)
    for f in tiny.iterdir():
        assert f.suffix != ".bin", f"unexpected {f}"
        assert f.stat().st_size < 200_000, f"unexpectedly large {f}"
    list_dir(tiny)
    state = {k: v.detach().clone() for k, v in safetensors.torch.load_file(str(tiny / "model.safetensors")).items()}
    sd = model.state_dict()
    assert set(state) == set(sd), sorted(set(state) ^ set(sd))
    for k in state:
        assert torch.equal(state[k], sd[k]), k

    # --- fixtures/tiny-legacy: same weights, old names, extra tensors the loader must ignore -----
    legacy = fresh_dir(out / "tiny-legacy")
    legacy_tensors = {legacy_name(k): v for k, v in state.items()}
    assert len(legacy_tensors) == len(state)
    n = TINY_MAX_POSITIONS
    legacy_tensors["bert.embeddings.position_ids"] = torch.arange(n, dtype=torch.int64).unsqueeze(0)
    gen = torch.Generator().manual_seed(PERTURB_SEED + 1)
    legacy_tensors["cls.predictions.bias"] = torch.randn(len(vocab), generator=gen) * PERTURB_STD
    legacy_tensors["cls.predictions.transform.dense.weight"] = torch.randn(32, 32, generator=gen) * PERTURB_STD
    safetensors.torch.save_file(
        {k: v.contiguous() for k, v in sorted(legacy_tensors.items())},
        str(legacy / "model.safetensors"),
        metadata={"format": "pt"},
    )
    shutil.copyfile(tiny / "config.json", legacy / "config.json")
    copy_tokenizer_files(tiny, legacy)
    list_dir(legacy)

    # --- fixtures/tiny-no-pooler: a BertModel base checkpoint, no pooler, no head ---------------
    no_pooler_dir = fresh_dir(out / "tiny-no-pooler")
    base_cfg = BertConfig(**{k: v for k, v in tiny_config(len(vocab)).to_dict().items() if k in BASE_CONFIG_KEYS})
    base_cfg.architectures = ["BertModel"]
    base = BertModel(base_cfg, add_pooling_layer=False)
    missing, unexpected = base.load_state_dict(
        {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.") and ".pooler." not in k},
        strict=True,
    )
    assert not missing and not unexpected
    base.save_pretrained(str(no_pooler_dir), safe_serialization=True)
    copy_tokenizer_files(tiny, no_pooler_dir)
    list_dir(no_pooler_dir)
    base_keys = safetensors.torch.load_file(str(no_pooler_dir / "model.safetensors")).keys()
    assert all(not k.startswith(("bert.", "pooler.", "classifier.")) for k in base_keys), sorted(base_keys)

    # --- goldens ---------------------------------------------------------------------------------
    loaded_base, info = BertModel.from_pretrained(
        str(no_pooler_dir),
        add_pooling_layer=False,
        dtype=torch.float32,
        attn_implementation=ATTN,
        output_loading_info=True,
    )
    problems = check_loading_info("tiny-no-pooler", info)
    assert not problems, problems
    loaded_base.eval()

    # Reload fixtures/tiny through transformers: the golden is what a fresh from_pretrained computes.
    reloaded, info = BertForSequenceClassification.from_pretrained(
        str(tiny), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
    )
    problems = check_loading_info("tiny", info)
    assert not problems, problems
    reloaded.eval()
    reloaded_sdpa = BertForSequenceClassification.from_pretrained(
        str(tiny), dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    reloaded_tok = AutoTokenizer.from_pretrained(str(tiny))

    cases = {
        "batch": encode_case(reloaded_tok, TINY_BATCH, pad_to=TINY_MAX_POSITIONS),
        "single": {
            "input_ids": torch.tensor([[tok.cls_token_id]], dtype=torch.int64),
            "token_type_ids": torch.zeros(1, 1, dtype=torch.int64),
            "attention_mask": torch.ones(1, 1, dtype=torch.int64),
        },
    }
    # The freshly built tokenizer and the saved one agree.
    assert torch.equal(cases["batch"]["input_ids"], encode_case(tok, TINY_BATCH, TINY_MAX_POSITIONS)["input_ids"])
    b = cases["batch"]
    assert list(b["input_ids"].shape) == [len(TINY_BATCH), TINY_MAX_POSITIONS]
    assert int(b["attention_mask"][4].sum()) == TINY_MAX_POSITIONS, "row 4 must be exactly 64 tokens"
    assert b["input_ids"][3, :3].tolist() == [2, vocab.index("x"), 3] and int(b["attention_mask"][3].sum()) == 3
    assert int(b["token_type_ids"][2].sum()) > 0, "pair must carry token_type_ids 1"
    assert (b["input_ids"][5] == tok.unk_token_id).any(), "row 5 must contain [UNK]"
    assert any(vocab[i].startswith("##") for i in b["input_ids"][5].tolist()), "row 5 must contain ##pieces"
    assert len(set(int(m.sum()) for m in b["attention_mask"])) == len(TINY_BATCH), "lengths must differ"

    tensors: dict[str, torch.Tensor] = {}
    case_info = {}
    for name, inputs in cases.items():
        res = forward_cls(reloaded, inputs)
        res_mem = forward_cls(model, inputs)
        res_sdpa = forward_cls(reloaded_sdpa, inputs)
        mask = inputs["attention_mask"]
        for k in res:
            # In-memory model == reloaded model (save_pretrained round-trip is lossless).
            assert torch.equal(res[k], res_mem[k]), f"{name}.{k}: reload changed the output"
            d = max_abs(res[k], res_sdpa[k], mask if k == "last_hidden_state" else None)
            say(f"{name}.{k}: eager vs sdpa max abs diff {d:.3g} (unmasked positions)")
            assert d <= 1e-5, f"{name}.{k}: eager and sdpa differ by {d}"
        with torch.no_grad():
            nop = loaded_base(**inputs, return_dict=True).last_hidden_state
        assert loaded_base.pooler is None
        assert torch.equal(nop, res["last_hidden_state"]), (
            f"{name}: no-pooler last_hidden_state differs by {max_abs(nop, res['last_hidden_state'])}"
        )
        if name == "batch":
            spread = float((res["logits"].max(0).values - res["logits"].min(0).values).min())
            say(f"batch.logits: smallest spread of a logit across rows {spread:.3g}")
            assert spread > 0.05, "logits barely depend on the input: the golden would be a weak test"
        for k, v in inputs.items():
            tensors[f"{name}.{k}"] = v
        for k, v in res.items():
            tensors[f"{name}.{k}"] = v.to(torch.float32)
        tensors[f"{name}.no_pooler.last_hidden_state"] = nop.to(torch.float32)
        case_info[name] = {
            "shape": list(inputs["input_ids"].shape),
            "lengths": [int(x) for x in mask.sum(-1)],
        }
    case_info["batch"]["rows"] = [
        {"text": t, "text_pair": p, "note": note} for t, p, note in TINY_BATCH
    ]
    case_info["batch"]["tokenizer_call"] = "tokenizer(text, text_pair, truncation=True, max_length=64), then right-pad with 0"
    case_info["single"]["rows"] = [{"text": None, "text_pair": None, "note": "input_ids [[CLS]] only"}]

    golden = out / "tiny_golden.safetensors"
    save_tensors(golden, tensors)
    shutil.rmtree(work)
    info = {
        "vocab_size": len(vocab),
        "config": {k: v for k, v in tiny_config(len(vocab)).to_dict().items() if k in BASE_CONFIG_KEYS},
        "perturbation": f"every parameter += N(0, {PERTURB_STD}) from torch.Generator seed {PERTURB_SEED}",
    }
    return case_info, info


BASE_CONFIG_KEYS = {
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "hidden_act",
    "layer_norm_eps",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "initializer_range",
    "pad_token_id",
}

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]


def copy_tokenizer_files(src: Path, dst: Path) -> None:
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)


# ----------------------------------------------------------------------------------------------------
# Real model (all-MiniLM-L6-v2)
# ----------------------------------------------------------------------------------------------------


def generate_minilm(out: Path, minilm: Path) -> dict:
    model, info = BertModel.from_pretrained(
        str(minilm), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
    )
    # Old checkpoints may carry the position_ids buffer; nothing else may be missing or left over.
    problems = check_loading_info("minilm", info, allow_unexpected=("position_ids",))
    assert not problems, problems
    model.eval()
    sdpa = BertModel.from_pretrained(str(minilm), dtype=torch.float32, attn_implementation="sdpa").eval()
    tok = BertTokenizerFast.from_pretrained(str(minilm))
    enc = tok(
        MINILM_SENTENCES,
        padding="longest",
        truncation=True,
        max_length=MINILM_MAX_LENGTH,
        return_tensors="pt",
    )
    inputs = {k: enc[k].to(torch.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
    b, t = inputs["input_ids"].shape
    assert b == len(MINILM_SENTENCES) and t < 32, f"not padded to longest: {list(inputs['input_ids'].shape)}"
    assert int(inputs["attention_mask"].sum(-1).max()) == t
    with torch.no_grad():
        res = model(**inputs, return_dict=True)
        res_sdpa = sdpa(**inputs, return_dict=True)
    mask = inputs["attention_mask"]
    d = max_abs(res.last_hidden_state, res_sdpa.last_hidden_state, mask)
    say(f"minilm.last_hidden_state: eager vs sdpa max abs diff {d:.3g} (unmasked positions)")
    assert d <= 1e-5, d
    d = max_abs(res.pooler_output, res_sdpa.pooler_output)
    say(f"minilm.pooler_output: eager vs sdpa max abs diff {d:.3g}")
    assert d <= 1e-5, d
    tensors = dict(inputs)
    tensors["last_hidden_state"] = res.last_hidden_state.to(torch.float32)
    tensors["pooler_output"] = res.pooler_output.to(torch.float32)
    golden = out / "minilm_golden.safetensors"
    save_tensors(golden, tensors)
    assert golden.stat().st_size < 200_000, describe(golden)
    return {
        "sentences": MINILM_SENTENCES,
        "tokenizer_call": "tokenizer(sentences, padding='longest', truncation=True, max_length=128)",
        "shape": [b, t],
        "lengths": [int(x) for x in mask.sum(-1)],
        "model_safetensors_sha256": sha256_file(minilm / "model.safetensors"),
    }


# ----------------------------------------------------------------------------------------------------
# Training-step parity (fixtures/train_parity.*)
# ----------------------------------------------------------------------------------------------------

# Seed of the torch.Generator that draws the 12 micro-batches (lengths, token ids, labels).
TRAIN_DATA_SEED = 2
TRAIN_BATCHES = 12
TRAIN_BATCH_SIZE = 4
TRAIN_MIN_LEN = 3
TRAIN_MAX_LEN = 20
TRAIN_FIRST_ID = 5  # token ids other than [CLS]/[SEP] are uniform in [5, vocab_size)
TRAIN_PAIR_BATCHES = (3, 7)  # rows 0-1 of these batches are sentence pairs (token type 1 on segment B)
TRAIN_RECIPE = {
    "batches": TRAIN_BATCHES,
    "grad_accum": 2,
    "steps": TRAIN_BATCHES // 2,
    "lr": 1e-3,
    "weight_decay": 0.01,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "warmup_steps": 2,
    # Pre-clip total norms are 3.3-7.4 (none) and 2.6-5.8 (bottom1): 4.0 clips 4 of the 6 steps of each
    # variant (asserted: at least 4) and leaves 2 unclipped (norms 3.3/3.9 and 2.6/3.8), so both
    # branches of clip_grad_norm_ are exercised, far from the threshold.
    "max_grad_norm": 4.0,
    "schedule": "linear",
    "no_decay": "names containing 'bias' or 'LayerNorm.weight'",
    "variants": {"none": [], "bottom1": ["bert.embeddings.", "bert.encoder.layer.0."]},
}


# The gradient of an attention key bias is mathematically 0 (it adds q.b_k, the same for every key, to a
# softmax row), so what .grad holds there is float rounding noise (~1e-8, near Adam's eps). Adam
# normalises it into updates of a good fraction of lr (7.6e-4 in total here), so these final values
# depend on the exact rounding: they differ by ~8e-5 between PyTorch's own fused and for-loop AdamW.
# They are stored, but a parity test must not compare them at 1e-5 (train_parity.json lists them
# under `zero_grad_parameters`).
TRAIN_ZERO_GRAD = ".attention.self.key.bias"


def train_parity_batches(vocab_size: int) -> list[dict[str, torch.Tensor]]:
    """The 12 micro-batches: right-padded (pad id 0) to each batch's own longest row, never all full."""
    gen = torch.Generator().manual_seed(TRAIN_DATA_SEED)
    batches = []
    for i in range(TRAIN_BATCHES):
        pair_rows = 2 if i in TRAIN_PAIR_BATCHES else 0
        while True:
            lengths = torch.randint(TRAIN_MIN_LEN, TRAIN_MAX_LEN + 1, (TRAIN_BATCH_SIZE,), generator=gen)
            # A pair needs [CLS] A [SEP] B [SEP] with non-empty A and B.
            if all(int(n) >= 5 for n in lengths[:pair_rows]) and len(set(lengths.tolist())) > 1:
                break
        t = int(lengths.max())
        shape = (TRAIN_BATCH_SIZE, t)
        batch = {k: torch.zeros(shape, dtype=torch.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
        for r, n in enumerate(lengths.tolist()):
            ids = torch.randint(TRAIN_FIRST_ID, vocab_size, (n,), generator=gen)
            ids[0], ids[n - 1] = 2, 3  # [CLS] ... [SEP]
            if r < pair_rows:
                # [CLS] A [SEP] B [SEP]: the first [SEP] after len(A) in 1..n-3; B and its [SEP] have type 1.
                a = int(torch.randint(1, n - 2, (1,), generator=gen))
                ids[a + 1] = 3
                batch["token_type_ids"][r, a + 2 : n] = 1
            batch["input_ids"][r, :n] = ids
            batch["attention_mask"][r, :n] = 1
        batch["labels"] = torch.randint(0, 3, (TRAIN_BATCH_SIZE,), generator=gen)
        batches.append(batch)
    return batches


def train_parity_model(tiny: Path) -> BertForSequenceClassification:
    model, info = BertForSequenceClassification.from_pretrained(
        str(tiny),
        dtype=torch.float32,
        attn_implementation=ATTN,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout=0.0,
        output_loading_info=True,
    )
    problems = check_loading_info("train-parity", info)
    assert not problems, problems
    cfg = model.config
    assert cfg.hidden_dropout_prob == 0.0 and cfg.attention_probs_dropout_prob == 0.0 and cfg.classifier_dropout == 0.0
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    return model.train()


def train_parity_decay_names(model) -> set[str]:
    """Trainer's own rule; asserted equal to 'not a bias and not a LayerNorm's weight' (ft's rule)."""
    from transformers.trainer import Trainer

    # An instance method that does not use `self` (no Trainer, hence no accelerate, needed).
    decay = set(Trainer.get_decay_parameter_names(None, model))
    norms = {
        f"{m}.{p}" for m, module in model.named_modules() if isinstance(module, torch.nn.LayerNorm)
        for p, _ in module.named_parameters(recurse=False)
    }
    simple = {n for n, _ in model.named_parameters() if "bias" not in n and n not in norms}
    assert decay == simple, f"Trainer's no-decay rule differs: {sorted(decay ^ simple)}"
    return decay


def train_parity_run(build, batches, frozen_prefixes: list[str], fused: bool | None = None, keep_grad0=False):
    """One run of the recipe in TRAIN_RECIPE on the model `build()` returns (called after
    `torch.manual_seed(SEED)`), every head: the batches hold the head's targets. Returns (losses,
    grad_norms, lrs, final params, grad0)."""
    r = TRAIN_RECIPE
    torch.manual_seed(SEED)
    model = build()
    for name, p in model.named_parameters():
        if name.startswith(tuple(frozen_prefixes)):
            p.requires_grad_(False)
    decay = train_parity_decay_names(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": r["weight_decay"]},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    trainable = [p for _, p in named]
    optimizer = torch.optim.AdamW(groups, lr=r["lr"], betas=tuple(r["betas"]), eps=r["eps"], fused=fused)
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=r["warmup_steps"], num_training_steps=r["steps"]
    )
    losses, norms, lrs, grad0 = [], [], [], {}
    optimizer.zero_grad()
    for i, batch in enumerate(batches):
        out = model(**batch, return_dict=True)  # the head's loss for the targets in the batch
        losses.append(out.loss.detach().clone())
        (out.loss / r["grad_accum"]).backward()
        if keep_grad0 and i == 0:
            grad0 = {n: p.grad.detach().clone() for n, p in named}
        if (i + 1) % r["grad_accum"] == 0:
            lrs.append(scheduler.get_last_lr()[0])
            norms.append(torch.nn.utils.clip_grad_norm_(trainable, max_norm=r["max_grad_norm"]).detach().clone())
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    assert len(norms) == r["steps"]
    final = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert set(final) == set(model.state_dict()), "parameters and state_dict keys differ"
    return (
        torch.stack(losses).to(torch.float32),
        torch.stack(norms).to(torch.float32),
        torch.tensor(lrs, dtype=torch.float32),
        final,
        grad0,
    )


def generate_train_parity(out: Path) -> dict:
    """Writes fixtures/train_parity.{safetensors,json}. Returns the case info for manifest.json."""
    tiny = out / "tiny"
    r = TRAIN_RECIPE
    initial = {k: v.clone() for k, v in safetensors.torch.load_file(str(tiny / "model.safetensors")).items()}
    vocab_size = initial["bert.embeddings.word_embeddings.weight"].shape[0]
    batches = train_parity_batches(vocab_size)
    lengths = [[int(n) for n in b["attention_mask"].sum(-1)] for b in batches]
    flat = [n for row in lengths for n in row]
    assert min(flat) == TRAIN_MIN_LEN and max(flat) == TRAIN_MAX_LEN, (min(flat), max(flat))
    for i, b in enumerate(batches):
        assert int(b["attention_mask"].sum()) < b["attention_mask"].numel(), f"batch {i} has no padding"
        assert (b["input_ids"][:, 0] == 2).all()
        assert bool(b["token_type_ids"].any()) == (i in TRAIN_PAIR_BATCHES), i

    tensors: dict[str, torch.Tensor] = {}
    for i, b in enumerate(batches):
        for k, v in b.items():
            tensors[f"batch{i}.{k}"] = v
    summary = {}
    key_bias_drift = 0.0
    for variant, frozen in r["variants"].items():
        losses, norms, lrs, final, grad0 = train_parity_run(lambda: train_parity_model(tiny), batches, frozen, keep_grad0=variant == "none")
        say(f"train-parity {variant}: losses {[round(float(x), 4) for x in losses]}")
        say(f"train-parity {variant}: grad norms {[round(float(x), 4) for x in norms]}, lrs {lrs.tolist()}")
        clipped = int((norms > r["max_grad_norm"]).sum())
        assert clipped >= 4, f"{variant}: only {clipped} of {r['steps']} steps clipped"
        assert torch.isfinite(losses).all() and 0.3 < float(losses.mean()) < 3.0, losses
        assert lrs[0] == 0.0 and abs(float(lrs.max()) - r["lr"]) < 1e-9, lrs
        for name, p in final.items():
            changed = not torch.equal(p, initial[name])
            expect_changed = not name.startswith(tuple(frozen))
            assert changed == expect_changed, f"{variant}: {name} changed={changed}"
            tensors[f"{variant}.final.{name}"] = p
        moved = max(max_abs(final[n], initial[n]) for n in final)
        say(f"train-parity {variant}: largest parameter change {moved:.3g}")
        tensors[f"{variant}.losses"] = losses
        tensors[f"{variant}.grad_norms"] = norms
        tensors[f"{variant}.lrs"] = lrs
        for name, g in grad0.items():
            tensors[f"{variant}.grad0.{name}"] = g
        summary[variant] = {
            "losses": [float(x) for x in losses],
            "grad_norms": [float(x) for x in norms],
            "lrs": [float(x) for x in lrs],
            "clipped_steps": clipped,
            "trainable_parameters": sum(v.numel() for n, v in final.items() if not n.startswith(tuple(frozen))),
        }
        if variant == "none":
            # Trainer's default optimizer (`adamw_torch_fused`) agrees with the for-loop AdamW used here.
            # Except the attention key biases: see TRAIN_ZERO_GRAD.
            _, fused_norms, _, fused_final, _ = train_parity_run(lambda: train_parity_model(tiny), batches, frozen, fused=True)
            d = max(max_abs(fused_final[n], final[n]) for n in final if not n.endswith(TRAIN_ZERO_GRAD))
            d_key = max(max_abs(fused_final[n], final[n]) for n in final if n.endswith(TRAIN_ZERO_GRAD))
            say(f"train-parity {variant}: fused vs for-loop AdamW final params max abs diff {d:.3g}")
            say(f"train-parity {variant}: ... on the attention key biases {d_key:.3g}")
            assert d <= 1e-6 and torch.allclose(fused_norms, norms, rtol=1e-6, atol=0), d
            for name, g in grad0.items():
                if name.endswith(TRAIN_ZERO_GRAD):
                    assert float(g.abs().max()) < 1e-6, f"{name}: gradient {float(g.abs().max())} is not rounding noise"
                    key_bias_drift = max(key_bias_drift, max_abs(final[name], initial[name]))
    # Before the first step's update (lr 0) both variants see the same model.
    assert torch.equal(tensors["none.losses"][:4], tensors["bottom1.losses"][:4])

    path = out / "train_parity.safetensors"
    save_tensors(path, tensors)
    assert path.stat().st_size < 500_000, describe(path)
    decay = sorted(train_parity_decay_names(train_parity_model(tiny)))
    recipe = {
        **r,
        "versions": versions(),
        "model": "fixtures/tiny, BertForSequenceClassification.from_pretrained(attn_implementation='eager', "
        "hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0), model.train()",
        "loss": "model(**batch, labels=labels).loss (mean cross-entropy over the micro-batch) / grad_accum, "
        "then backward()",
        "optimizer": "torch.optim.AdamW([decay group, no-decay group]), trainable parameters only",
        "per_step": "lr = scheduler.get_last_lr()[0]; norm = clip_grad_norm_(trainable, max_grad_norm); "
        "optimizer.step(); scheduler.step(); optimizer.zero_grad()",
        "data": {
            "seed": TRAIN_DATA_SEED,
            "batch_size": TRAIN_BATCH_SIZE,
            "lengths": lengths,
            "ids": f"[CLS]=2 ... [SEP]=3, others uniform in [{TRAIN_FIRST_ID}, {vocab_size}), pad 0 (mask 0)",
            "pairs": f"rows 0-1 of batches {list(TRAIN_PAIR_BATCHES)}: [CLS] A [SEP] B [SEP], token type 1 on B [SEP]",
        },
        "trainer_note": "= transformers.Trainer with loss_is_scaled_for_ga=False. The stock 5.24 Trainer does NOT "
        "divide by grad_accum here: BertForSequenceClassification.forward takes **kwargs, so Trainer sets "
        "model_accepts_loss_kwargs and passes num_items_in_batch, which the model ignores (per-batch mean); "
        "its gradients are then 2x these (pre-clip norms 14.76, 6.64, ...)",
        "decay_parameters": decay,
        "zero_grad_parameters": {
            "names": sorted(n for n in initial if n.endswith(TRAIN_ZERO_GRAD)),
            "why": "mathematically zero gradient (softmax shift invariance): .grad is rounding noise and "
            "Adam turns it into updates, so final values depend on rounding; do not compare them at 1e-5",
            "max_abs_change_none": key_bias_drift,
        },
        "results": summary,
    }
    write_json(out / "train_parity.json", recipe)
    return {"recipe": "train_parity.json", "lengths": lengths, "variants": r["variants"]}


TRAIN_PARITY_FILES = ["train_parity.safetensors", "train_parity.json"]


def add_train_parity_to_manifest(manifest: dict, out: Path, info: dict) -> None:
    manifest.setdefault("cases", {})["train_parity.safetensors"] = info
    manifest.setdefault("tensors", {})["train_parity.safetensors"] = tensor_table(out / "train_parity.safetensors")
    files = manifest.setdefault("files", {})
    for name in TRAIN_PARITY_FILES:
        files[name] = sha256_file(out / name)
    manifest["files"] = dict(sorted(files.items()))


def add_train_parity_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "train-parity",
    "write train_parity.{safetensors,json} (6 AdamW steps of OUT/tiny) and add them to manifest.json",
    add_train_parity_args,
)
def cmd_train_parity(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating training parity fixtures into {out} with {versions()}")
    info = generate_train_parity(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    add_train_parity_to_manifest(manifest, out, info)
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# Pooling goldens (ft-model): sentence-transformers' pooling of the tiny encoder's padded batch
# ----------------------------------------------------------------------------------------------------


def st_pool(mode: str, token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' `Pooling.forward` (models/Pooling.py) for one mode, its lines as written
    there: `cls` takes token 0; `max` sets padding to -1e9 and takes the max over tokens; `mean` sums
    the masked embeddings and divides by the clamped mask sum."""
    if mode == "cls":
        return token_embeddings[:, 0]
    mask = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
    if mode == "max":
        token_embeddings = token_embeddings.clone()
        token_embeddings[mask == 0] = -1e9
        return torch.max(token_embeddings, 1)[0]
    assert mode == "mean", mode
    sum_embeddings = torch.sum(token_embeddings * mask, 1)
    sum_mask = torch.clamp(mask.sum(1), min=1e-9)
    return sum_embeddings / sum_mask


def add_pooling_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "pooling-goldens",
    "write pooling_golden.safetensors (cls / mean / max of OUT/tiny on tiny_golden's padded batch) and add it to manifest.json",
    add_pooling_goldens_args,
)
def cmd_pooling_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating pooling goldens into {out} with {versions()}")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    add_pooling_golden_to_manifest(manifest, out, generate_pooling_golden(out))
    write_json(manifest_path, manifest)
    return 0


POOLING_GOLDEN_FILE = "pooling_golden.safetensors"


def generate_pooling_golden(out: Path) -> dict:
    """Writes fixtures/pooling_golden.safetensors: tiny_golden's padded batch through OUT/tiny's encoder,
    pooled by `st_pool` in each mode. Returns the case info for manifest.json."""
    model = BertForSequenceClassification.from_pretrained(str(out / "tiny"), dtype=torch.float32).eval()
    batch = safetensors.torch.load_file(str(out / "tiny_golden.safetensors"))
    inputs = {k: batch[f"batch.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
    assert (inputs["attention_mask"] == 0).any(), "the batch must have padding"
    with torch.no_grad():
        hidden = model.bert(**inputs).last_hidden_state
        tensors = dict(inputs)
        for mode in ("cls", "mean", "max"):
            tensors[f"pooled.{mode}"] = st_pool(mode, hidden, inputs["attention_mask"])
    save_tensors(out / POOLING_GOLDEN_FILE, tensors)
    return {
        "model": "tiny",
        "inputs": "tiny_golden.safetensors batch.* (6 rows padded to 64)",
        "pooling": "sentence-transformers Pooling.forward (cls, mean, max), transcribed in st_pool()",
    }


def add_pooling_golden_to_manifest(manifest: dict, out: Path, info: dict) -> None:
    manifest.setdefault("cases", {})[POOLING_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[POOLING_GOLDEN_FILE] = tensor_table(out / POOLING_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[POOLING_GOLDEN_FILE] = sha256_file(out / POOLING_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))


# ----------------------------------------------------------------------------------------------------
# Class-weight goldens (ft-model losses, ft-train's `balanced` weights)
# ----------------------------------------------------------------------------------------------------

CLASS_WEIGHTS_GOLDEN_FILE = "class_weights_golden.json"


def add_class_weight_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "class-weight-goldens",
    "write class_weights_golden.json (weighted CrossEntropyLoss / BCEWithLogitsLoss(pos_weight) values, "
    "scikit-learn's balanced class weights) and add it to manifest.json",
    add_class_weight_goldens_args,
)
def cmd_class_weight_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating class-weight goldens into {out} with {versions()}")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    generate_class_weight_goldens(out)
    add_class_weight_goldens_to_manifest(manifest, out)
    write_json(manifest_path, manifest)
    return 0


def add_class_weight_goldens_to_manifest(manifest: dict, out: Path) -> None:
    manifest.setdefault("cases", {})[CLASS_WEIGHTS_GOLDEN_FILE] = {
        "losses": "torch.nn.CrossEntropyLoss(weight=w), torch.nn.BCEWithLogitsLoss(pos_weight=p), f32 on CPU",
        "balanced": "sklearn.utils.class_weight.compute_class_weight('balanced')",
    }
    files = manifest.setdefault("files", {})
    files[CLASS_WEIGHTS_GOLDEN_FILE] = sha256_file(out / CLASS_WEIGHTS_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))


def generate_class_weight_goldens(out: Path) -> None:
    from sklearn.utils.class_weight import compute_class_weight

    gen = torch.Generator().manual_seed(SEED)
    logits = torch.randn(7, 3, generator=gen) * 2
    classes = torch.tensor([0, 2, 2, 1, 0, 2, 2])
    weights = torch.tensor([0.5, 3.0, 1.25])
    ce = torch.nn.CrossEntropyLoss(weight=weights)(logits, classes)
    x = torch.randn(5, 4, generator=gen) * 3
    y = (torch.rand(5, 4, generator=gen) > 0.6).float()
    pos_weight = torch.tensor([1.0, 4.0, 0.25, 2.5])
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)(x, y)
    labels = [0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 1]
    balanced = compute_class_weight("balanced", classes=np.arange(3), y=np.asarray(labels))
    golden = {
        "single": {
            "logits": logits.tolist(),
            "classes": classes.tolist(),
            "weights": weights.tolist(),
            "loss": float(ce),
        },
        "multi": {"logits": x.tolist(), "targets": y.tolist(), "pos_weight": pos_weight.tolist(), "loss": float(bce)},
        "balanced": {"labels": labels, "num_classes": 3, "weights": balanced.tolist()},
    }
    write_json(out / CLASS_WEIGHTS_GOLDEN_FILE, golden)


# ----------------------------------------------------------------------------------------------------
# Tokenizer goldens (ft-data): what HF tokenizers produce for tricky strings, both vocabularies
# ----------------------------------------------------------------------------------------------------

TOKENIZER_GOLDEN_SEED = 3
TOKENIZER_GOLDEN_FILES = {"tiny": "tokenizer_golden_tiny.json", "minilm": "tokenizer_golden_minilm.json"}
# Cases padded together (right, with [PAD]) to pin the batch layout: attention_mask 0 on padding.
PADDED_BATCH_CASES = 12

_LONG = " ".join(
    [
        "It was the best of times, it was the worst of times, it was the age of wisdom,",
        "it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,",
        "it was the season of Light, it was the season of Darkness, it was the spring of hope,",
        "it was the winter of despair, we had everything before us, we had nothing before us.",
    ]
)

# (text, text_pair or None, max_length, note). max_length is capped at 64 for the tiny vocabulary.
TOKENIZER_CASES_FIXED = [
    ("", None, 16, "empty text: [CLS] [SEP]"),
    (" ", None, 16, "one space"),
    ("   \t\n\r\n  ", None, 16, "whitespace only (ASCII)"),
    ("\u00a0\u3000\u2009\u2028\u2029", None, 16, "whitespace only (Unicode: NBSP, ideographic, thin, line/par sep)"),
    ("", "", 16, "empty pair: [CLS] [SEP] [SEP]"),
    ("hello", "", 16, "pair with empty second text"),
    ("", "world", 16, "pair with empty first text"),
    ("Hello, World!", None, 32, "mixed case and punctuation"),
    ("The movie was GOOD.", None, 32, "upper case lowered"),
    ("café naïve résumé", None, 32, "accents stripped (lowercase implies strip_accents)"),
    ("CAFÉ NAÏVE RÉSUMÉ", None, 32, "upper-case accents"),
    ("e\u0301le\u0300ve", None, 32, "combining marks (NFD already)"),
    ("Ångström Øresund Æsir Œuvre", None, 32, "letters without decomposition (Ø, Æ, Œ)"),
    ("Straße ß ẞ", None, 32, "sharp s and capital sharp s"),
    ("İstanbul ıi IJ ǅ", None, 32, "dotted capital I, dotless i, digraphs"),
    ("Dvořák Łódź Kraków Ţară", None, 32, "Central European accents"),
    ("Σίσυφος ΌΛΑ όλα ς", None, 32, "Greek with tonos, final sigma"),
    ("Привет, мир! Ёлка йод", None, 32, "Cyrillic; Ё and й decompose"),
    ("مرحبا بالعالم", None, 32, "Arabic"),
    ("שָׁלוֹם עולם", None, 32, "Hebrew with niqqud (Mn)"),
    ("नमस्ते दुनिया", None, 32, "Devanagari: virama (Mn) and vowel signs (Mc)"),
    ("สวัสดีชาวโลก", None, 32, "Thai, no spaces"),
    ("한국어 텍스트", None, 32, "Hangul: NFD splits syllables into jamo"),
    ("ひらがな カタカナ がぎぐげご パピプ", None, 32, "kana; dakuten (Mn) stripped by NFD"),
    ("中文字符測試", None, 32, "CJK ideographs, split one per token"),
    ("我爱北京天安门。你好、世界「引用」", None, 32, "CJK with CJK punctuation"),
    ("漢字abc漢字123", None, 32, "CJK glued to Latin and digits"),
    ("\U00020000\U0002a6df\U0002a700\U0002b740\U0002b820\U0002b920\U0002ceaf\U0002ceb0", None, 32,
     "CJK extension B..F boundaries (2B81F/2B920 gap)"),
    ("\uf900\ufaff\U0002f800\U0002fa1f\u3400\u4dbf\u4e00\u9fff\u9fa5", None, 32, "CJK compatibility and block edges"),
    ("\u3007\u2e80\u31c0\uff10", None, 32, "near-CJK characters that are not in the ranges"),
    ("ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ １２３", None, 32, "fullwidth forms (no NFKC)"),
    ("I love it 😀😀😀", None, 32, "emoji"),
    ("👍🏽 ❤️ ☺︎ ✔", None, 32, "skin tone, variation selectors (Mn)"),
    ("🥰 🫠 🦀 🧑‍💻", None, 32, "newer emoji (Unicode 11-14) and a ZWJ sequence"),
    ("👨‍👩‍👧‍👦 family", None, 32, "ZWJ (Cf) removed by clean_text"),
    ("🇫🇷🇯🇵 flags", None, 32, "regional indicators"),
    ("https://example.com/path/to/page?query=1&lang=en#section", None, 64, "URL"),
    ("Visit www.example.org or http://test.example.net:8080/a_b-c.html!", None, 64, "URLs in a sentence"),
    ("mail me at first.last+tag@example.co.uk", None, 32, "e-mail"),
    ("3.14159 1,000,000 -42 +7 1e10 0x1F 50% $5.99 €10", None, 64, "numbers and currency"),
    ("2024-02-29 12:30:45 v1.2.3 #hashtag @user", None, 64, "dates, versions, tags"),
    ("a\x00b\x01c\x07d\x1be\x7ff", None, 32, "ASCII control characters removed"),
    ("tab\tnew\nline\rcarriage\x0bvt\x0cff", None, 32, "\\t \\n \\r are whitespace, \\v \\f too"),
    ("nel\x85sep\u200bzw\u200czwj\u200dlrm\u200ebom\ufeffshy\u00adend", None, 32,
     "NEL, zero-width chars, BOM, soft hyphen (Cc/Cf)"),
    ("private\ue000use\U000f0000x unassigned\u0378\u0530y \ufffdreplacement", None, 32,
     "private use, unassigned code points, U+FFFD"),
    ("\x1b[31mred\x1b[0m", None, 32, "ANSI escape codes"),
    ("[CLS] [SEP] [MASK] [PAD] [UNK]", None, 32, "literal special tokens match as special"),
    ("hello[MASK]world", None, 32, "special token glued to words"),
    ("[cls] [Sep] [ MASK ]", None, 32, "special-looking text that is not a special token"),
    ("[[CLS]]", None, 16, "special token inside brackets"),
    ("[MASK][MASK]", "[SEP]", 16, "specials in a pair"),
    ("a" * 99, None, 16, "99-char word"),
    ("b" * 100, None, 16, "100-char word (max_input_chars_per_word)"),
    ("c" * 101, None, 16, "101-char word: [UNK]"),
    ("é" * 101, None, 16, "101 accented chars: counted before normalization? no, after"),
    ("unbelievably unaffordable unwatchable", None, 32, "word pieces"),
    ("don't won't it's o'clock rock'n'roll", None, 32, "apostrophes"),
    ("«quoted» “curly” ‘single’ „low“ —dash– …ellipsis", None, 32, "Unicode punctuation"),
    ("¿Qué? ¡Sí! § ¶ © ® ™ ° ± × ÷", None, 32, "inverted marks and symbols (So/Sm are not punctuation)"),
    ("∑ x² ≤ ∞ √2 ∫f(x)dx ≈ π", None, 32, "math symbols, superscript"),
    ("$^&*`~|\\<>=+_", None, 32, "ASCII symbols that BERT counts as punctuation"),
    ("<b>bold</b> &amp; <a href=\"x\">link</a>", None, 64, "HTML"),
    ('fn main() { println!("hi {}", 1 + 2); }', None, 64, "code"),
    ("ﬁ ﬂ ﬃ ℌ ℍ ① ㎏", None, 32, "compatibility characters (NFD leaves them)"),
    ("Ǆemal ǈiljana Ǌegoš", None, 32, "titlecase digraphs"),
    ("x", None, 2, "max_length 2: only [CLS] [SEP]"),
    ("x y z", None, 3, "max_length 3: one token"),
    ("one two three four five six", "seven eight", 7, "pair, only the longer truncated"),
    ("one two", "three four five six seven eight", 7, "pair, second longer"),
    ("one two three four five six", "seven eight nine ten eleven", 9, "pair, both truncated (odd budget)"),
    ("one two three four five six", "seven eight nine ten eleven", 10, "pair, both truncated (even budget)"),
    ("one two three", "four five six", 8, "pair, equal lengths over budget"),
    ("one two three", "four five six", 9, "pair, exactly at budget"),
    ("a b c d e f g h i j", "k", 6, "pair, short second of 1"),
    ("k", "a b c d e f g h i j", 6, "pair, short first of 1"),
    ("a b c", "d e f g h", 4, "pair, budget 1 (max 4)"),
    ("a b c", "d e f g h", 5, "pair, budget 2"),
    ("a b c d", "e f g h i j k", 3, "pair, budget 0 (max 3)"),
    (_LONG, None, 64, "long text truncated"),
    (_LONG, None, 128, "long text truncated at 128"),
    (_LONG * 3, None, 128, "very long text"),
    (_LONG, _LONG[::-1], 64, "long pair, both truncated"),
    ("short question?", _LONG, 64, "short + long pair"),
    (_LONG, "short answer.", 64, "long + short pair"),
    ("Is this the right answer?", "Yes, it is the right one.", 64, "question/answer pair"),
    ("The café was nice", "but the crème brûlée wasn't", 64, "pair with accents"),
    ("中文问题", "日本語の答え", 64, "CJK pair"),
    ("😀", "😢", 16, "emoji pair"),
    # Offsets and word ids: characters (not bytes) of the original text, per sequence.
    ("😀café😀 naïve 🇫🇷x", None, 32, "offsets after astral characters and accents"),
    ("Wait!!!... what?!?—no…", None, 32, "punctuation runs: one word per character"),
    ("a    b\t\t\tc\n\n\nd \u3000\u3000 e", None, 32, "whitespace runs between words"),
    ("ab\x00cd e\u200bf", None, 32, "removed characters inside a word: offsets span them"),
    ("q\u0301\u0316x y\u0316\u0301z", None, 32, "combining marks NFD reorders, then strips"),
    ("한국어 Ǆemal ﬁx", None, 32, "one original character, several normalized ones"),
    ("😀 " + "z" * 120 + " end", "x " + "é" * 101, 64, "words over max_input_chars_per_word in a pair: [UNK] spans them"),
    ("[MASK] is a [MASK].", "The [MASK]", 16, "special tokens in the text: their own word, mask 0"),
    ("中文 and 日本語", "漢字abc漢字", 16, "CJK words in a pair, truncated"),
    ("café " * 30, "naïve " * 30, 24, "long accented pair, both truncated"),
]

_POOLS = {
    "word": (
        "the a movie film good bad great terrible plot acting story really very not love hate fun boring "
        "Rust Python tokenizer BERT model data train test Hello WORLD OpenAI GitHub iPhone McDonald's "
        "unbelievable unwatchable overrated underrated masterpiece disappointing"
    ).split(),
    "accent": "café naïve résumé Ångström Ölçek Straße Œuvre façade jalapeño São Ærø Dvořák Łódź élève ŞİŞLİ".split(),
    "cjk": list("中文字符測試漢字日本語我爱北京天安门你好世界") + ["\U00020000", "\uf900", "\U0002a700"],
    "kana": "ひらがな カタカナ がぎぐ パピプ 한국어 텍스트".split(),
    "emoji": ["😀", "👍🏽", "❤️", "🥰", "🫠", "👨\u200d👩\u200d👧", "🇫🇷", "🦀", "✔", "☺︎"],
    "punct": list("!?.,;:…—–-«»“”‘’¿¡§¶©®™°±×÷€£¥₹∑∞≤≥√()[]{}<>/\\|@#$%^&*_+=~`'\""),
    "space": [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2009", "\u200b"],
    "control": ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u200e", "\ufeff", "\u00ad", "\ufffd", "\ue000",
                "\u0378", "\U000e0001", "\u200d"],
    "number": ["42", "3.14159", "1,000,000", "-7", "1e10", "0x1F", "12:30", "2024-02-29", "50%", "$5", "10/10"],
    "url": ["https://example.com/a?b=c&d=e#f", "www.test.org", "user@example.com", "http://x.y.z:8080/p_q-r.txt"],
    "special": ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[MASK"],
}
_WEIGHTS = {"word": 30, "accent": 8, "cjk": 6, "kana": 3, "emoji": 5, "punct": 10, "space": 0, "control": 3,
            "number": 5, "url": 2, "special": 2}


def _random_text(rng, n_pieces: int) -> str:
    kinds = list(_WEIGHTS)
    weights = [_WEIGHTS[k] for k in kinds]
    out = []
    for _ in range(n_pieces):
        out.append(rng.choice(_POOLS[rng.choices(kinds, weights)[0]]))
        # Mostly a plain space between pieces, sometimes nothing or odd whitespace.
        r = rng.random()
        out.append(" " if r < 0.7 else "" if r < 0.85 else rng.choice(_POOLS["space"]))
    return "".join(out)


def tokenizer_cases() -> list[tuple[str, str | None, int, str]]:
    import random

    rng = random.Random(TOKENIZER_GOLDEN_SEED)
    cases = list(TOKENIZER_CASES_FIXED)
    for i in range(150):
        n = rng.choice([1, 2, 3, 5, 8, 12, 20, 40, 80])
        text = _random_text(rng, n)
        pair = _random_text(rng, rng.choice([1, 3, 6, 15, 40])) if rng.random() < 0.35 else None
        max_length = rng.choice([8, 11, 16, 24, 32, 64, 128])
        cases.append((text, pair, max_length, f"random {i}"))
    return cases


# What each golden case records: its key (transformers' name) → the attribute of Python tokenizers' `Encoding`.
ENCODING_FIELDS = {
    "input_ids": "ids",
    "token_type_ids": "type_ids",
    "attention_mask": "attention_mask",
    "word_ids": "word_ids",  # [BatchEncoding.word_ids()]
    "offsets": "offsets",  # [offset_mapping]
    "special_tokens_mask": "special_tokens_mask",
    "sequence_ids": "sequence_ids",  # [BatchEncoding.sequence_ids()]
}


def _encoding_row(enc: tokenizers.Encoding) -> dict:
    row = {key: list(getattr(enc, attr)) for key, attr in ENCODING_FIELDS.items()}
    row["offsets"] = [list(o) for o in row["offsets"]]
    return row


def _encode_all(raw: tokenizers.Tokenizer, cases, cap: int) -> list[dict]:
    """Every case through `raw` (no padding), truncated `longest_first` to its max_length."""
    raw.no_padding()
    rows = []
    for text, pair, max_length, note in cases:
        m = min(max_length, cap)
        raw.enable_truncation(m, strategy="longest_first")
        # An empty text_pair is a pair ([CLS] A [SEP] [SEP]), as in transformers' batch call.
        enc = raw.encode(text, pair)
        rows.append({"note": note, "text": text, "text_pair": pair, "max_length": m, **_encoding_row(enc)})
    raw.no_truncation()
    return rows


def _vocab_tokenizer(model_dir: Path, cfg: dict) -> tokenizers.Tokenizer:
    """The tokenizer transformers' `BertTokenizerFast(vocab=vocab.txt, **tokenizer_config)` builds
    (transformers 5 `BertTokenizer.__init__`), assembled from `tokenizers` parts."""
    from tokenizers import AddedToken, models, normalizers, pre_tokenizers, processors

    vocab = {}
    for i, line in enumerate((model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()):
        vocab[line] = i
    names = {k: cfg.get(f"{k}_token") or f"[{k.upper()}]" for k in ("unk", "sep", "pad", "cls", "mask")}
    raw = tokenizers.Tokenizer(models.WordPiece(vocab, unk_token=names["unk"], max_input_chars_per_word=100))
    raw.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=cfg.get("tokenize_chinese_chars", True),
        strip_accents=cfg.get("strip_accents"),
        lowercase=cfg.get("do_lower_case", True),
    )
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = names["cls"], names["sep"]
    raw.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
    )
    raw.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in names.values() if t in vocab])
    return raw


def _padded_batch(raw: tokenizers.Tokenizer, texts: list[str], cap: int, pad_id: int, pad_token: str) -> dict:
    """`texts` padded together to the longest (right, pad id, attention mask 0)."""
    raw.enable_truncation(cap, strategy="longest_first")
    raw.enable_padding(direction="right", pad_id=pad_id, pad_type_id=0, pad_token=pad_token)
    encs = raw.encode_batch(texts)
    raw.no_padding()
    raw.no_truncation()
    return {
        "input_ids": [e.ids for e in encs],
        "token_type_ids": [e.type_ids for e in encs],
        "attention_mask": [e.attention_mask for e in encs],
    }


def _check_with_transformers(name: str, model_dir: Path, cfg: dict, cases, cap: int, rows, batch) -> bool:
    """Where transformers is installed (always under `generate`): its `BertTokenizerFast`, loaded
    both ways, gives the same encodings and padded batch. False when it is not installed."""
    try:
        from transformers import BertTokenizerFast as Fast
    except ImportError:
        return False
    vocab = {}
    for i, line in enumerate((model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()):
        vocab[line] = i
    from_vocab = Fast(
        vocab=vocab,
        do_lower_case=cfg.get("do_lower_case", True),
        tokenize_chinese_chars=cfg.get("tokenize_chinese_chars", True),
        strip_accents=cfg.get("strip_accents"),
    )
    for tok in (Fast.from_pretrained(str(model_dir)), from_vocab):
        for row, (text, pair, _m, note) in zip(rows, cases):
            # The batch call, as run_classification's `dataset.map(batched=True)` makes it: transformers'
            # single call would drop an empty text_pair (`if text_pair`), the batch call keeps it.
            enc = tok(
                [text],
                None if pair is None else [pair],
                truncation=True,
                max_length=row["max_length"],
                padding=False,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
            )
            got = {k: list(v[0]) for k, v in enc.items()}
            got["offsets"] = [list(o) for o in got.pop("offset_mapping")]
            got["word_ids"] = enc.word_ids(0)
            got["sequence_ids"] = enc.sequence_ids(0)
            want = {k: row[k] for k in ENCODING_FIELDS}
            assert got == want, f"{name}: transformers ({type(tok).__name__}) and tokenizers disagree on {note!r}"
        padded = tok([r["text"] for r in rows[:PADDED_BATCH_CASES]], truncation=True, max_length=cap, padding="longest")
        assert {k: padded[k] for k in batch} == batch, f"{name}: transformers pads differently"
    return True


def tokenizer_golden(name: str, model_dir: Path, cap: int) -> dict:
    """Goldens for one vocabulary, from Python tokenizers; tokenizer.json and vocab.txt must agree
    (and transformers, where installed), or we stop."""
    cases = tokenizer_cases()
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    from_json = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    rows = _encode_all(from_json, cases, cap)
    rows_vocab = _encode_all(_vocab_tokenizer(model_dir, cfg), cases, cap)
    for r, rv in zip(rows, rows_vocab):
        assert r == rv, f"{name}: tokenizer.json and vocab.txt disagree on {r['note']!r}: {r} vs {rv}"
        assert len(r["input_ids"]) <= r["max_length"], r
        assert all(len(r[k]) == len(r["input_ids"]) for k in ENCODING_FIELDS), r
    pad_token = cfg.get("pad_token") or "[PAD]"
    pad_id = from_json.token_to_id(pad_token)
    # Texts only (the pairs of these cases are left out): pins right padding with pad id and mask 0.
    batch = _padded_batch(from_json, [r["text"] for r in rows[:PADDED_BATCH_CASES]], cap, pad_id, pad_token)
    transformers_checked = _check_with_transformers(name, model_dir, cfg, cases, cap, rows, batch)
    lengths = [len(r["input_ids"]) for r in rows]
    unk = from_json.token_to_id(cfg.get("unk_token") or "[UNK]")
    say(
        f"{name}: {len(rows)} cases, {sum(r['text_pair'] is not None for r in rows)} pairs, "
        f"{sum(1 for r in rows if len(r['input_ids']) == r['max_length'])} truncated to max_length, "
        f"lengths {min(lengths)}..{max(lengths)}, unk {sum(r['input_ids'].count(unk) for r in rows)}, "
        f"non-ASCII {sum(not (r['text'] + (r['text_pair'] or '')).isascii() for r in rows)}; "
        + ("transformers agrees" if transformers_checked else "transformers not installed: not compared")
    )
    return {
        "generator": "xtask/py/generate_fixtures.py tokenizer-goldens",
        "versions": {"python": platform.python_version(), "tokenizers": tokenizers.__version__},
        "tokenizer": name,
        "tokenizer_call": "tok = tokenizers.Tokenizer.from_file(tokenizer.json); tok.no_padding(); "
        "tok.enable_truncation(max_length, strategy='longest_first'); enc = tok.encode(text, text_pair); "
        "input_ids = enc.ids, token_type_ids = enc.type_ids, attention_mask, word_ids, offsets (characters of "
        "the case's own text, (0, 0) for added specials), special_tokens_mask, sequence_ids = enc.<same name>",
        "checked": "tokenizers.Tokenizer.from_file(tokenizer.json) == the same pipeline built from vocab.txt + "
        "tokenizer_config (what BertTokenizerFast(vocab=...) builds) on every field of every case; "
        ""
        "also == transformers' BertTokenizerFast, both ways, where transformers is installed (always under `generate`): (input_ids, token_type_ids, attention_mask, "
        "offset_mapping, special_tokens_mask, word_ids(), sequence_ids()) with the batch call "
        "tokenizer([text], [text_pair] or None, truncation=True, max_length=max_length)",
        "pad_token_id": pad_id,
        "cases": rows,
        "padded_batch": {
            "call": f"tokenizer([case.text for case in cases[0:{PADDED_BATCH_CASES}]], truncation=True, max_length={cap}, "
            "padding='longest')",
            **batch,
        },
    }


def write_compact_json(path: Path, obj: dict) -> None:
    """JSON with one case per line: small, and a diff shows which case changed."""
    lines = ["{"]
    keys = sorted(obj)
    for i, k in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        v = obj[k]
        if isinstance(v, list):
            lines.append(f"  {json.dumps(k)}: [")
            for j, item in enumerate(v):
                item_comma = "," if j + 1 < len(v) else ""
                lines.append("    " + json.dumps(item, ensure_ascii=False, sort_keys=True) + item_comma)
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, sort_keys=True)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    say(f"wrote {describe(path)}")


def generate_tokenizer_goldens(out: Path, minilm: Path) -> list[str]:
    written = []
    for name, model_dir, cap in (("tiny", out / "tiny", TINY_MAX_POSITIONS), ("minilm", minilm, MINILM_MAX_LENGTH)):
        golden = tokenizer_golden(name, model_dir, cap)
        assert len(golden["cases"]) >= 200
        path = out / TOKENIZER_GOLDEN_FILES[name]
        write_compact_json(path, golden)
        assert path.stat().st_size < 400_000, describe(path)
        written.append(path.name)
    return written


def add_tokenizer_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (reads OUT/tiny)")
    p.add_argument("--minilm", type=Path, required=True, help="directory of all-MiniLM-L6-v2 (HF layout)")


@subcommand(
    "tokenizer-goldens",
    "write fixtures/tokenizer_golden_{tiny,minilm}.json (also part of `generate`) and update their sha256 in "
    "manifest.json; needs only `tokenizers`",
    add_tokenizer_goldens_args,
    tokenizers_only=True,
)
def cmd_tokenizer_goldens(args) -> int:
    out: Path = args.out
    written = generate_tokenizer_goldens(out, args.minilm)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest.setdefault("files", {})
        files.update({name: sha256_file(out / name) for name in written})
        manifest["files"] = dict(sorted(files.items()))
        write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# align-goldens (ft-data tagging): pre-split words through tokenizers, labels aligned as run_ner.py
# ----------------------------------------------------------------------------------------------------

ALIGN_GOLDEN_FILE = "token_align_golden.json"
ALIGN_LABELS = ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]  # no I-MISC: B-MISC stays
_ALIGN_LONG = "It was the best of times , it was the worst of times , it was the age of wisdom".split()

# (words, tags, max_length, note). Tags index ALIGN_LABELS by name.
ALIGN_CASES = [
    (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"], 64, "CoNLL sentence, B-MISC has no I-"),
    (["Peter", "Blackburn"], ["B-PER", "I-PER"], 64, "two-word entity"),
    (["BRUSSELS", "1996-08-22"], ["B-LOC", "O"], 64, "a date splits at its hyphens: one word, many tokens"),
    (["antidisestablishmentarianism", "x"], ["B-ORG", "O"], 64, "a word of many sub-tokens"),
    (["Café", "Zürich", "São", "Paulo", "naïve"], ["B-LOC", "B-LOC", "B-LOC", "I-LOC", "O"], 64, "accents stripped"),
    (["ÉCOLE", "Ångström"], ["B-ORG", "O"], 64, "upper-case accents"),
    (["U.S.", "don't", "(", "a", ")"], ["B-LOC", "O", "O", "O", "O"], 64, "punctuation inside and as words"),
    (["a", "\u200b", "b"], ["O", "B-PER", "O"], 64, "a word the normalizer empties: no token, no label"),
    (["東京", "is", "big"], ["B-LOC", "O", "O"], 64, "CJK: one word, one token per ideograph"),
    (["the", "[MASK]", "movie"], ["O", "B-MISC", "O"], 64, "a special token written as a word"),
    (["New", "York", "City", "rocks"], ["B-LOC", "I-LOC", "I-LOC", "O"], 5, "truncation: 3 tokens kept of 4 words"),
    (["antidisestablishmentarianism", "Peter"], ["B-ORG", "B-PER"], 6, "truncation inside a word"),
    (["one", "two", "three"], ["O", "O", "O"], 3, "max_length 3: one token"),
    (["one", "two"], ["O", "B-PER"], 4, "exact fit: nothing cut"),
    (_ALIGN_LONG, ["O"] * len(_ALIGN_LONG), 64, "many words"),
    (_ALIGN_LONG, ["B-PER"] * len(_ALIGN_LONG), 12, "many words, truncated"),
    (["x"], ["I-PER"], 64, "one word"),
    (["ZZZqqq", "Blackburn's"], ["B-PER", "I-PER"], 64, "unknown pieces and a possessive"),
]


def run_ner_b_to_i(label_list: list[str]) -> list[int]:
    """run_ner.py's `b_to_i_label`."""
    b_to_i_label = []
    for idx, label in enumerate(label_list):
        if label.startswith("B-") and label.replace("B-", "I-") in label_list:
            b_to_i_label.append(label_list.index(label.replace("B-", "I-")))
        else:
            b_to_i_label.append(idx)
    return b_to_i_label


def run_ner_align(word_ids: list, label: list[int], label_all_tokens: bool, b_to_i_label: list[int]) -> list[int]:
    """run_ner.py's `tokenize_and_align_labels`, for one sentence, over tokenizers' `word_ids()`."""
    previous_word_idx = None
    label_ids = []
    for word_idx in word_ids:
        if word_idx is None:
            label_ids.append(-100)
        elif word_idx != previous_word_idx:
            label_ids.append(label[word_idx])
        else:
            if label_all_tokens:
                label_ids.append(b_to_i_label[label[word_idx]])
            else:
                label_ids.append(-100)
        previous_word_idx = word_idx
    return label_ids


def _align_rows(raw: tokenizers.Tokenizer, cap: int) -> list[dict]:
    raw.no_padding()
    b_to_i_label = run_ner_b_to_i(ALIGN_LABELS)
    rows = []
    for words, tags, max_length, note in ALIGN_CASES:
        m = min(max_length, cap)
        raw.enable_truncation(m, strategy="longest_first")
        enc = raw.encode(words, is_pretokenized=True)
        label = [ALIGN_LABELS.index(t) for t in tags]
        rows.append(
            {
                "note": note,
                "words": words,
                "tags": tags,
                "max_length": m,
                "input_ids": enc.ids,
                "word_ids": enc.word_ids,
                "offsets": [list(o) for o in enc.offsets],
                "special_tokens_mask": enc.special_tokens_mask,
                "labels_first": run_ner_align(enc.word_ids, label, False, b_to_i_label),
                "labels_all": run_ner_align(enc.word_ids, label, True, b_to_i_label),
            }
        )
    raw.no_truncation()
    return rows


def generate_align_goldens(out: Path, minilm: Path) -> list[str]:
    golden = {
        "generator": "xtask/py/generate_fixtures.py align-goldens",
        "versions": {"python": platform.python_version(), "tokenizers": tokenizers.__version__},
        "call": "tok = tokenizers.Tokenizer.from_file(tokenizer.json); tok.no_padding(); "
        "tok.enable_truncation(max_length); enc = tok.encode(words, is_pretokenized=True); labels_first / "
        "labels_all = run_ner.py's tokenize_and_align_labels over enc.word_ids with label_all_tokens False / True "
        "(label ids index label_list; b_to_i_label as run_ner builds it)",
        "label_list": ALIGN_LABELS,
        "b_to_i_label": run_ner_b_to_i(ALIGN_LABELS),
    }
    for name, model_dir, cap in (("tiny", out / "tiny", TINY_MAX_POSITIONS), ("minilm", minilm, MINILM_MAX_LENGTH)):
        cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        rows = _align_rows(tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json")), cap)
        rows_vocab = _align_rows(_vocab_tokenizer(model_dir, cfg), cap)
        for r, rv in zip(rows, rows_vocab):
            assert r == rv, f"{name}: tokenizer.json and vocab.txt disagree on {r['note']!r}: {r} vs {rv}"
        golden[f"cases_{name}"] = rows
        multi = sum(1 for r in rows if len(set(w for w in r["word_ids"] if w is not None)) < len(r["input_ids"]) - 2)
        say(f"align {name}: {len(rows)} cases, {multi} with multi-token words")
    path = out / ALIGN_GOLDEN_FILE
    write_compact_json(path, golden)
    return [ALIGN_GOLDEN_FILE]


@subcommand(
    "align-goldens",
    "write fixtures/token_align_golden.json (pre-split words + run_ner label alignment, also part of `generate`) "
    "and update its sha256 in manifest.json; needs only `tokenizers`",
    add_tokenizer_goldens_args,
    tokenizers_only=True,
)
def cmd_align_goldens(args) -> int:
    out: Path = args.out
    written = generate_align_goldens(out, args.minilm)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest.setdefault("files", {})
        files.update({name: sha256_file(out / name) for name in written})
        manifest["files"] = dict(sorted(files.items()))
        write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# metrics-goldens: what scikit-learn / scipy / seqeval compute, for ft-eval
# ----------------------------------------------------------------------------------------------------

METRICS_GOLDEN_FILE = "metrics_golden.json"
METRICS_GOLDEN_SEED = 5
# Tolerance the Rust golden test uses (absolute, relative above 1); recorded in the file.
METRICS_TOLERANCE = 1e-9
# Most probabilities are multiples of 1/1024: exact in binary, short in JSON, each row sums to exactly 1, and
# ties across samples (which ROC-AUC must handle like scikit-learn) happen naturally.
METRICS_PROB_DENOM = 1024
METRICS_ENTITY_TYPES = ["LOC", "MISC", "ORG", "PER"]


def _metrics_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": version("scikit-learn"),
        "scipy": version("scipy"),
        "seqeval": version("seqeval"),
    }


def _num(x) -> float | None:
    """A JSON number (exact repr of the float64), or None where the reference returns NaN (undefined)."""
    x = float(x)
    return None if np.isnan(x) else x


def _quantized_probs(rng, y_true, c: int, skill: float, denom: int = METRICS_PROB_DENOM) -> np.ndarray:
    """Softmax of noisy logits (the true class nudged up by `skill`), rounded to multiples of 1/denom."""
    n = len(y_true)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y_true] += skill
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    k = np.floor(p * denom).astype(np.int64)
    k[np.arange(n), k.argmax(axis=1)] += denom - k.sum(axis=1)
    assert (k.sum(axis=1) == denom).all() and (k >= 0).all()
    return k / denom


def _classification_case(name: str, y_true, y_pred, probs, note: str) -> dict:
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n, c = probs.shape
    assert y_true.shape == y_pred.shape == (n,)
    labels = list(range(c))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None, zero_division=0)
    averages = {}
    for avg in ("macro", "micro", "weighted"):
        # labels=None: scikit-learn's default, the classes present in y_true or y_pred.
        ap, ar, af, _ = skm.precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
        averages[avg] = {"precision": _num(ap), "recall": _num(ar), "f1": _num(af)}
    if c == 2:
        defined = len(set(y_true.tolist())) == 2
        roc = skm.roc_auc_score(y_true, probs[:, 1]) if defined else None
    else:
        defined = all(0 < int((y_true == k).sum()) < n for k in labels)
        roc = skm.roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=labels)
        assert defined or np.isnan(roc), (name, roc)
    expected = {
        "accuracy": _num(skm.accuracy_score(y_true, y_pred)),
        "per_class": {
            "precision": [_num(v) for v in p],
            "recall": [_num(v) for v in r],
            "f1": [_num(v) for v in f],
            "support": [int(v) for v in s],
        },
        **averages,
        "mcc": _num(skm.matthews_corrcoef(y_true, y_pred)),
        "confusion": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "log_loss": _num(skm.log_loss(y_true, probs, labels=labels)),
        "roc_auc": _num(roc) if roc is not None else None,
    }
    return {
        "name": name,
        "note": note,
        "num_classes": c,
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "probs": probs.tolist(),
        "expected": expected,
    }


def metrics_classification_cases(rng) -> list[dict]:
    cases = []

    def draw(n, c, weights=None):
        return rng.choice(c, size=n, p=weights)

    def argmax_case(name, n, c, skill, note, weights=None, denom=METRICS_PROB_DENOM):
        y = draw(n, c, weights)
        probs = _quantized_probs(rng, y, c, skill, denom)
        # First maximum, as numpy's argmax (ties in a row go to the lower class).
        cases.append(_classification_case(name, y, probs.argmax(axis=1), probs, note))

    argmax_case("binary_balanced", 40, 2, 1.5, "two classes, y_pred = argmax of probs")
    argmax_case("binary_imbalanced", 120, 2, 1.0, "90% negatives", weights=[0.9, 0.1])
    argmax_case("three_classes", 60, 3, 1.5, "three balanced classes")
    argmax_case(
        "five_classes_imbalanced", 200, 5, 1.2, "class weights .5 .2 .15 .1 .05", weights=[0.5, 0.2, 0.15, 0.1, 0.05]
    )
    argmax_case("ten_classes", 150, 10, 2.0, "ten classes, some with few samples")
    argmax_case("heavy_ties", 100, 3, 1.0, "probabilities in steps of 1/8: many tied scores", denom=8)
    argmax_case("binary_heavy_ties", 60, 2, 1.0, "probabilities in steps of 1/4: many tied scores", denom=4)

    y = draw(80, 4)
    probs = _quantized_probs(rng, y, 4, 1.5)
    y_pred = probs.argmax(axis=1)
    y_pred[y_pred == 2] = 0
    assert (y == 2).any()
    note = "class 2 is in y_true, never predicted"
    cases.append(_classification_case("never_predicted_class", y, y_pred, probs, note))

    y = draw(50, 3)
    probs = np.concatenate([_quantized_probs(rng, y, 3, 1.5)[:, :3] * 0.75, np.full((50, 1), 0.25)], axis=1)
    cases.append(
        _classification_case(
            "absent_class", y, probs[:, :3].argmax(axis=1), probs, "class 3 of 4 never in y_true nor y_pred"
        )
    )

    y = np.ones(30, dtype=np.int64)
    probs = _quantized_probs(rng, y, 3, 0.5)
    cases.append(_classification_case("single_true_class", y, probs.argmax(axis=1), probs, "y_true is all class 1"))

    y = draw(50, 3)
    probs = _quantized_probs(rng, y, 3, 1.0)
    cases.append(_classification_case("constant_prediction", y, np.zeros(50, dtype=np.int64), probs, "y_pred all 0"))

    y = draw(45, 4)
    probs = _quantized_probs(rng, y, 4, 8.0)
    assert (probs.argmax(axis=1) == y).all()
    cases.append(_classification_case("perfect", y, y, probs, "y_pred == y_true"))

    cases.append(_classification_case("one_sample", [1], [0], [[0.75, 0.25]], "a single sample, misclassified"))

    y = draw(20, 2)
    probs = _quantized_probs(rng, 1 - y, 2, 8.0)
    cases.append(_classification_case("all_wrong_binary", y, 1 - y, probs, "every prediction wrong, AUC 0"))

    y = draw(30, 3)
    probs = np.eye(3)[rng.choice(3, size=30)]
    probs[:5] = np.eye(3)[y[:5]]
    cases.append(
        _classification_case(
            "clipped_probs", y, probs.argmax(axis=1), probs, "one-hot probabilities: log-loss clips 0 and 1 to eps"
        )
    )

    y = draw(100, 3)
    logits = rng.normal(size=(100, 3))
    logits[np.arange(100), y] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cases.append(
        _classification_case("full_precision_probs", y, probs.argmax(axis=1), probs, "float64 softmax, no ties")
    )
    return cases


def metrics_binary_score_cases(rng) -> list[dict]:
    from sklearn import metrics as skm

    def case(name, y, scores, note):
        y = np.asarray(y, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        return {
            "name": name,
            "note": note,
            "y_true": [bool(v) for v in y],
            "scores": scores.tolist(),
            "expected": {"roc_auc": _num(skm.roc_auc_score(y, scores))},
        }

    y = rng.choice(2, size=80)
    decision = np.round(rng.normal(size=80) + 0.8 * y, 1)
    y2 = rng.choice(2, size=15)
    return [
        case("decision_values", y, decision, "real-valued scores rounded to 0.1: negative values and ties"),
        case("all_tied", y2, np.full(15, 0.5), "one score for every sample: AUC 0.5"),
        case("perfect_separation", [0, 0, 0, 1, 1], [-2.0, -1.0, 0.0, 1.0, 2.0], "AUC 1"),
        case("inverted", [1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.3, 0.9], "AUC 0"),
        case("ties_across_classes", [0, 1, 0, 1, 1, 0], [0.5, 0.5, 0.2, 0.8, 0.2, 0.5], "tied scores with both labels"),
    ]


def metrics_multilabel_cases(rng) -> list[dict]:
    from sklearn import metrics as skm

    def case(name, y_true, y_pred, note):
        y_true = np.asarray(y_true, dtype=np.int64)
        y_pred = np.asarray(y_pred, dtype=np.int64)
        expected = {
            "subset_accuracy": _num(skm.accuracy_score(y_true, y_pred)),
            "hamming_loss": _num(skm.hamming_loss(y_true, y_pred)),
        }
        # scikit-learn reads an [n, 1] indicator matrix as binary targets (type_of_target "binary"), so one
        # column is scored as the binary problem of that column: its P/R/F1 are the per-label, micro and
        # macro values alike.
        one = y_true.shape[1] == 1
        for avg in ("micro", "macro"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                y_true, y_pred, average="binary" if one else avg, zero_division=0
            )
            expected[avg] = {"precision": _num(p), "recall": _num(r), "f1": _num(f)}
        p, r, f, s = skm.precision_recall_fscore_support(
            y_true, y_pred, average=None, zero_division=0, labels=[1] if one else None
        )
        expected["per_label"] = {
            "precision": [_num(v) for v in p],
            "recall": [_num(v) for v in r],
            "f1": [_num(v) for v in f],
            "support": [int(v) for v in s],
        }
        return {
            "name": name,
            "note": note,
            "num_labels": int(y_true.shape[1]),
            "y_true": y_true.astype(bool).tolist(),
            "y_pred": y_pred.astype(bool).tolist(),
            "expected": expected,
        }

    def noisy(y, flip):
        return np.where(rng.random(y.shape) < flip, 1 - y, y)

    y = (rng.random((60, 5)) < 0.3).astype(np.int64)
    y_never = (rng.random((40, 4)) < 0.4).astype(np.int64)
    y_never[:, 2] = 0
    y_never_pred = noisy(y_never, 0.2)
    y_never_pred[:, 2] = 0
    y_perfect = (rng.random((25, 3)) < 0.5).astype(np.int64)
    y_one = (rng.random((30, 1)) < 0.5).astype(np.int64)
    y_sparse = (rng.random((30, 6)) < 0.1).astype(np.int64)
    return [
        case("random_5_labels", y, noisy(y, 0.15), "5 labels, 15% of the cells flipped"),
        case("label_never_present", y_never, y_never_pred, "label 2 neither true nor predicted anywhere (F1 0)"),
        case("perfect_multilabel", y_perfect, y_perfect, "y_pred == y_true"),
        case("one_label_column", y_one, noisy(y_one, 0.3), "a single label column"),
        case("sparse_empty_rows", y_sparse, np.zeros_like(y_sparse), "few positives, nothing predicted"),
    ]


def metrics_regression_cases(rng) -> list[dict]:
    import warnings

    from scipy import stats
    from sklearn import metrics as skm

    def case(name, y_true, y_pred, note):
        y_true = np.asarray(y_true, dtype=np.float64)
        y_pred = np.asarray(y_pred, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConstantInputWarning: the NaN is what we record
            pearson = stats.pearsonr(y_true, y_pred).statistic
            spearman = stats.spearmanr(y_true, y_pred).statistic
        return {
            "name": name,
            "note": note,
            "y_true": y_true.tolist(),
            "y_pred": y_pred.tolist(),
            "expected": {
                "mse": _num(skm.mean_squared_error(y_true, y_pred)),
                "mae": _num(skm.mean_absolute_error(y_true, y_pred)),
                "pearson": _num(pearson),
                "spearman": _num(spearman),
            },
        }

    x = rng.normal(size=100)
    ints = rng.integers(0, 5, size=80).astype(np.float64)
    big = 1e6 + np.round(rng.normal(size=50), 3)
    z = rng.normal(size=40)
    return [
        case("random_linear", x, 0.8 * x + rng.normal(scale=0.5, size=100), "continuous, correlated"),
        case("integer_ties", ints, np.clip(ints + rng.integers(-1, 2, size=80), 0, 4), "values 0..4: ties in ranks"),
        case("constant_prediction", x[:20], np.full(20, 0.25), "y_pred constant: correlations undefined (NaN)"),
        case("two_samples", [1.0, 2.0], [3.0, 2.5], "n = 2: correlations exactly -1"),
        # Rounded again after the sum: short decimals that parse exactly, and equal sums are true ties.
        case("large_offset", big, np.round(big + np.round(rng.normal(scale=0.1, size=50), 3), 3), "values near 1e6"),
        case("anti_correlated", z, -2.0 * z + rng.normal(scale=0.3, size=40), "negative correlation"),
    ]


def _random_iob2(rng, length: int) -> list[str]:
    tags = []
    while len(tags) < length:
        if rng.random() < 0.6:
            tags.append("O")
            continue
        t = METRICS_ENTITY_TYPES[rng.integers(len(METRICS_ENTITY_TYPES))]
        span = int(rng.integers(1, 4))
        tags.extend(["B-" + t] + ["I-" + t] * (span - 1))
    return tags[:length]


def _corrupt_tags(rng, tags: list[str], rate: float) -> list[str]:
    """Boundary and type errors of a tagger, and IOB2 violations seqeval reads leniently."""
    out = list(tags)
    for i in range(len(out)):
        if rng.random() >= rate:
            continue
        kind = rng.integers(6)
        t = METRICS_ENTITY_TYPES[rng.integers(len(METRICS_ENTITY_TYPES))]
        if kind == 0:
            out[i] = "O"
        elif kind == 1:
            out[i] = "B-" + t
        elif kind == 2:
            out[i] = "I-" + t  # I- after O or after another type: starts a chunk
        elif kind == 3 and out[i] != "O":
            out[i] = out[i][0] + "-" + t  # same boundary, other type
        elif kind == 4 and out[i].startswith("B-"):
            out[i] = "I-" + out[i][2:]
        else:
            out[i] = "O" if out[i] != "O" else "B-" + t
    return out


def _tagging_case(name: str, y_true: list[list[str]], y_pred: list[list[str]], note: str) -> dict:
    import warnings

    from seqeval.metrics import sequence_labeling as sl

    def per_sentence(sentences):
        # ft-eval extracts chunks sentence by sentence; seqeval flattens with an "O" between sentences.
        # The two agree for tags that start with O, B, I, E or S (checked here on every case).
        out, offset = [], 0
        for s in sentences:
            out += [(t, offset + a, offset + b) for t, a, b in sl.get_entities(list(s))]
            offset += len(s) + 1
        return out

    for seqs in (y_true, y_pred):
        assert sl.get_entities(seqs) == per_sentence(seqs), name

    def located(sentences):
        out = []
        for i, s in enumerate(sentences):
            out += [[i, t, a, b + 1] for t, a, b in sl.get_entities(list(s))]
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning and "seems not to be NE tag"
        expected = {}
        for avg in ("micro", "macro", "weighted"):
            p, r, f, _ = sl.precision_recall_fscore_support(y_true, y_pred, average=avg)
            expected[avg] = {"precision": _num(p), "recall": _num(r), "f1": _num(f)}
        assert expected["micro"]["f1"] == _num(sl.f1_score(y_true, y_pred)), name
        p, r, f, s = sl.precision_recall_fscore_support(y_true, y_pred, average=None)
        types = sorted({t for t, _, _ in sl.get_entities(y_true)} | {t for t, _, _ in sl.get_entities(y_pred)})
        expected["per_type"] = {
            t: {"precision": _num(p[i]), "recall": _num(r[i]), "f1": _num(f[i]), "support": int(s[i])}
            for i, t in enumerate(types)
        }
    expected["accuracy"] = _num(sl.accuracy_score(y_true, y_pred))
    expected["entities_true"] = located(y_true)
    expected["entities_pred"] = located(y_pred)
    return {"name": name, "note": note, "y_true": y_true, "y_pred": y_pred, "expected": expected}


def metrics_tagging_cases(rng) -> list[dict]:
    y = [_random_iob2(rng, int(rng.integers(1, 25))) for _ in range(40)]
    y_small = [_random_iob2(rng, int(rng.integers(3, 12))) for _ in range(8)]
    lenient_true = [
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC", "O"],
        ["I-ORG", "I-ORG", "O", "B-MISC", "B-MISC", "O"],
        ["O", "B-PER", "I-LOC", "I-LOC", "O", "S-ORG", "B-ORG", "E-ORG"],
        ["B", "I", "O", "I-", "O", "E-PER", "E-PER"],
    ]
    lenient_pred = [
        ["I-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "I-LOC"],
        ["B-ORG", "I-ORG", "O", "B-MISC", "I-MISC", "O"],
        ["O", "B-PER", "B-LOC", "I-LOC", "O", "S-ORG", "B-ORG", "I-ORG"],
        ["B", "B", "O", "I", "O", "B-PER", "E-PER"],
    ]
    return [
        _tagging_case("iob2_random", y, [_corrupt_tags(rng, s, 0.12) for s in y], "40 sentences, corrupted tagger"),
        _tagging_case(
            "lenient_chunks",
            lenient_true,
            lenient_pred,
            "I- after O or after another type starts a chunk; E-/S- tags; tags without a type (type '_')",
        ),
        _tagging_case("no_predicted_entities", y_small, [["O"] * len(s) for s in y_small], "y_pred all O"),
        _tagging_case("no_entities", [["O", "O"], ["O"]], [["O", "O"], ["O"]], "no chunk anywhere: macro is NaN"),
        _tagging_case("perfect_tagging", y_small, y_small, "y_pred == y_true"),
    ]


def write_metrics_golden(path: Path, header: dict, families: dict[str, list[dict]]) -> None:
    """Header keys first, then one case per line per family: a diff shows which case changed."""
    lines = ["{"]
    for k in sorted(header):
        lines.append(f"  {json.dumps(k)}: {json.dumps(header[k], sort_keys=True)},")
    names = sorted(families)
    for i, family in enumerate(names):
        lines.append(f"  {json.dumps(family)}: [")
        cases = families[family]
        for j, case in enumerate(cases):
            comma = "," if j + 1 < len(cases) else ""
            lines.append("    " + json.dumps(case, sort_keys=True, allow_nan=False) + comma)
        lines.append("  ]" + ("," if i + 1 < len(names) else ""))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    say(f"wrote {describe(path)}")


def generate_metrics_goldens(out: Path) -> dict:
    """Writes fixtures/metrics_golden.json. Returns the case info for manifest.json."""
    import warnings

    rng = np.random.default_rng(METRICS_GOLDEN_SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning where zero_division=0 applies
        families = {
            "classification": metrics_classification_cases(rng),
            "binary_scores": metrics_binary_score_cases(rng),
            "multilabel": metrics_multilabel_cases(rng),
            "regression": metrics_regression_cases(rng),
            "tagging": metrics_tagging_cases(rng),
        }
    header = {
        "generator": "xtask/py/generate_fixtures.py metrics-goldens",
        "versions": _metrics_versions(),
        "seed": METRICS_GOLDEN_SEED,
        "tolerance": METRICS_TOLERANCE,
        "conventions": {
            "null": "the reference returns NaN (undefined); ft-eval's documented decision applies",
            "classification": "per_class and confusion with labels=range(num_classes); macro/micro/weighted with "
            "labels=None (classes in y_true or y_pred); zero_division=0; log_loss(labels=range(num_classes)); "
            "roc_auc: binary on probs[:, 1], else multi_class='ovr', average='macro'",
            "multilabel": "indicator matrices; zero_division=0",
            "regression": "scipy.stats.pearsonr / spearmanr .statistic; sklearn mean_squared_error / "
            "mean_absolute_error",
            "tagging": "seqeval.metrics.sequence_labeling (default mode, IOB2 lenient); entities are "
            "[sentence, type, start, end) with end exclusive",
        },
    }
    path = out / METRICS_GOLDEN_FILE
    write_metrics_golden(path, header, families)
    assert path.stat().st_size < 200_000, describe(path)
    counts = {k: len(v) for k, v in families.items()}
    assert sum(counts.values()) >= 20, counts
    say(f"metrics goldens: {counts}")
    return {
        "seed": METRICS_GOLDEN_SEED,
        "tolerance": METRICS_TOLERANCE,
        "versions": header["versions"],
        "cases": {k: [c["name"] for c in v] for k, v in families.items()},
    }


def add_metrics_goldens_to_manifest(manifest: dict, out: Path, info: dict) -> None:
    manifest.setdefault("cases", {})[METRICS_GOLDEN_FILE] = info
    files = manifest.setdefault("files", {})
    files[METRICS_GOLDEN_FILE] = sha256_file(out / METRICS_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))


def add_metrics_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "metrics-goldens",
    "write fixtures/metrics_golden.json (scikit-learn / scipy / seqeval values) and add it to manifest.json",
    add_metrics_goldens_args,
)
def cmd_metrics_goldens(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    info = generate_metrics_goldens(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    add_metrics_goldens_to_manifest(manifest, out, info)
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# qa-goldens: run_qa.py's windows (only_second truncation with a stride) and answer positions
# ----------------------------------------------------------------------------------------------------

QA_GOLDEN_FILE = "qa_windows_golden.json"
QA_GOLDEN_SEED = 11


def run_qa_positions(offsets, sequence_ids, cls_index: int, start_char: int | None, end_char: int | None):
    """run_qa.py's `prepare_train_features` labels for one window (pad_on_right, no padding): [CLS]
    when there is no answer or the window does not hold all of it, else the first and last token of
    the answer, found by its loops over the offsets (including their quirk at a window's last token)."""
    if start_char is None:
        return cls_index, cls_index
    token_start_index = 0
    while sequence_ids[token_start_index] != 1:
        token_start_index += 1
    token_end_index = len(offsets) - 1
    while sequence_ids[token_end_index] != 1:
        token_end_index -= 1
    if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
        return cls_index, cls_index
    while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
        token_start_index += 1
    start = token_start_index - 1
    while offsets[token_end_index][1] >= end_char:
        token_end_index -= 1
    return start, token_end_index + 1


def _qa_contexts(rng) -> list[tuple[str, str, str, str]]:
    """(question, context, answer text, note): short, unicode, and long generated contexts."""
    words = (
        "flight fare denver boston morning evening airline ticket seattle dallas monday friday "
        "airport ground transportation cheapest nonstop connecting aircraft meal breakfast dinner "
        "économie zürich café naïve façade jalapeño straße 東京 北京 🙂 12:30 1,250 o'clock e-mail"
    ).split()

    def sentence(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n)).capitalize() + rng.choice([".", "!", "?", ";"])

    cases = [
        ("Where does the flight leave from?", "The flight leaves from Denver in the morning.", "Denver", "short"),
        ("  Which café?", "We met at Café Müller in Zürich, near the naïve façade.", "Café Müller", "unicode, accents; "
         "question with leading spaces (run_qa strips them before tokenizing; this case keeps them)"),
        ("What time?", "Departure is at 12:30 from gate 7, o'clock sharp.", "12:30", "digits and punctuation"),
        ("Which city?", "東京から北京まで、the flight goes on to Seattle 🙂 tomorrow.", "Seattle", "CJK and emoji"),
        ("Is there an answer?", "This context does not hold it.", None, "no answer: [CLS]"),
        (" ".join(["what about the long question"] * 12) + "?", " ".join(["short context words"] * 30) + ".", None,
         "a long question: truncation fails unless everything fits"),
    ]
    for k in range(6):
        long = " ".join(sentence(int(rng.integers(6, 18))) for _ in range(int(rng.integers(40, 120))))
        cases.append((f"Question number {k} about the trip?", long, None, f"long generated context {k}"))
    return cases


def _qa_rows(tok: tokenizers.Tokenizer, cases, max_len: int, stride: int, rng, border: bool) -> list[dict]:
    """Windows and labels for each case; long contexts get answers picked at window borders."""
    tok.no_padding()
    tok.enable_truncation(max_len, stride=stride, strategy="only_second")
    rows = []
    for question, context, answer, note in cases:
        try:
            enc = tok.encode(question, context)
        except Exception as e:  # noqa: BLE001
            # tokenizers refuses when the question leaves no room (or panics on the stride): ft errs too.
            rows.append({"note": note, "question": question, "context": context, "error": str(e)})
            continue
        windows = [enc] + list(enc.overflowing)
        answers: list[tuple[int, str, str]] = []
        if answer is not None:
            answers.append((context.index(answer), answer, "the answer"))
        elif note.startswith("long") and border and len(windows) > 1:
            # Answers made of the context's own words around window borders: the last context token
            # of window 0, the first of window 1 past the overlap, a span across the border.
            w0, w1 = windows[0], windows[1]
            ctx0 = [i for i, s in enumerate(w0.sequence_ids) if s == 1]
            ctx1 = [i for i, s in enumerate(w1.sequence_ids) if s == 1]
            picks = [
                (w0.offsets[ctx0[-1]], "last context token of window 0"),
                (w1.offsets[ctx1[min(stride, len(ctx1) - 1)]], "first token of window 1 past the overlap"),
                ((w0.offsets[ctx0[-3]][0], w1.offsets[ctx1[min(stride + 2, len(ctx1) - 1)]][1]), "span across the border"),
                ((w0.offsets[ctx0[0]][0], w0.offsets[ctx0[1]][1]), "first context tokens"),
            ]
            last = windows[-1]
            ctx_last = [i for i, s in enumerate(last.sequence_ids) if s == 1]
            picks.append(((last.offsets[ctx_last[-2]][0], last.offsets[ctx_last[-1]][1]), "end of the context"))
            for (a, b), what in picks:
                if b > a:
                    answers.append((a, context[a:b], what))
        if not answers:
            answers.append((-1, "", "no answer"))
        rows.append(
            {
                "note": note,
                "question": question,
                "context": context,
                "windows": [
                    {
                        "input_ids": w.ids,
                        "token_type_ids": w.type_ids,
                        "offsets": [list(o) for o in w.offsets],
                        "sequence_ids": w.sequence_ids,
                        "special_tokens_mask": w.special_tokens_mask,
                    }
                    for w in windows
                ],
                "answers": [
                    {
                        "note": what,
                        "answer_start": a if a >= 0 else None,
                        "answer_text": text if a >= 0 else None,
                        "positions": [
                            [0, 0] if a < 0 else list(run_qa_positions(w.offsets, w.sequence_ids, 0, a, a + len(text)))
                            for w in windows
                        ],
                    }
                    for a, text, what in answers
                ],
            }
        )
    return rows


def generate_qa_goldens(out: Path, minilm: Path) -> list[str]:
    import numpy as np

    golden: dict = {
        "generator": "xtask/py/generate_fixtures.py qa-goldens",
        "versions": {"python": platform.python_version(), "tokenizers": tokenizers.__version__},
        "call": "tok = tokenizers.Tokenizer.from_file(tokenizer.json); tok.no_padding(); "
        "tok.enable_truncation(max_len, stride=stride, strategy='only_second'); enc = tok.encode(question, context); "
        "windows = [enc] + enc.overflowing (what transformers' tokenizer(question, context, truncation='only_second', "
        "max_length, stride, return_overflowing_tokens=True, return_offsets_mapping=True) returns per sample); "
        "positions = run_qa.py's prepare_train_features labels per window ([CLS] = 0, no padding)",
        "seed": QA_GOLDEN_SEED,
    }
    # (name, model, max_len, stride, cases): the tiny vocabulary spells most words letter by letter, so
    # it gets the short contexts only; MiniLM all of them at run_qa's 384 / 128 and at 64 / 16.
    settings = (("tiny", out / "tiny", 40, 4, 6), ("minilm", minilm, 384, 128, None), ("minilm_short", minilm, 64, 16, 8))
    for name, model_dir, max_len, stride, n_cases in settings:
        rng = np.random.default_rng(QA_GOLDEN_SEED)
        cases = _qa_contexts(rng)[:n_cases]
        cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        rows = _qa_rows(tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json")), cases, max_len, stride,
                        np.random.default_rng(QA_GOLDEN_SEED), True)
        rows_vocab = _qa_rows(_vocab_tokenizer(model_dir, cfg), cases, max_len, stride,
                              np.random.default_rng(QA_GOLDEN_SEED), True)
        for r, rv in zip(rows, rows_vocab):
            assert r == rv, f"{name}: tokenizer.json and vocab.txt disagree on {r['note']!r}"
        golden[name] = {"max_len": max_len, "stride": stride, "cases": rows}
        n_windows = sum(len(r.get("windows", [])) for r in rows)
        labels = [p for r in rows for a in r.get("answers", []) for p in a["positions"]]
        at_cls = sum(p == [0, 0] for p in labels)
        say(f"qa {name}: {len(rows)} contexts, {n_windows} windows, {len(labels)} labels, {at_cls} at [CLS]")
    path = out / QA_GOLDEN_FILE
    write_compact_json(path, golden)
    return [QA_GOLDEN_FILE]


QA_POST_GOLDEN_FILE = "qa_postprocess_golden.json"


def utils_qa_postprocess(context: str, windows: list[dict], n_best_size: int, max_answer_length: int) -> list[dict]:
    """transformers' examples/pytorch/question-answering/utils_qa.py `postprocess_qa_predictions` for one
    example (SQuAD v1: no null answer), restated: for every window the top `n_best_size` start and end
    logits (np.argsort, descending), pairs kept when both tokens are context tokens (offsets not None),
    end >= start and at most `max_answer_length` tokens; score = start + end logit (float32); the best
    `n_best_size` by score (a stable sort), text cut from the context by character offsets; "empty" when
    nothing is left; probabilities = softmax of the scores."""
    import numpy as np

    prelim = []
    for w_index, w in enumerate(windows):
        start_logits = np.asarray(w["start_logits"], dtype=np.float32)
        end_logits = np.asarray(w["end_logits"], dtype=np.float32)
        offsets = w["offsets"]
        start_indexes = np.argsort(start_logits)[-1 : -n_best_size - 1 : -1].tolist()
        end_indexes = np.argsort(end_logits)[-1 : -n_best_size - 1 : -1].tolist()
        for start_index in start_indexes:
            for end_index in end_indexes:
                if start_index >= len(offsets) or end_index >= len(offsets):
                    continue
                if offsets[start_index] is None or offsets[end_index] is None:
                    continue
                if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                    continue
                prelim.append(
                    {
                        "offsets": (offsets[start_index][0], offsets[end_index][1]),
                        "score": start_logits[start_index] + end_logits[end_index],
                        "window": w_index,
                        "start_index": start_index,
                        "end_index": end_index,
                    }
                )
    predictions = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best_size]
    for pred in predictions:
        a, b = pred["offsets"]
        pred["text"] = context[a:b]
    if len(predictions) == 0 or (len(predictions) == 1 and predictions[0]["text"] == ""):
        predictions.insert(0, {"text": "empty", "offsets": None, "score": np.float32(0.0), "window": None,
                               "start_index": None, "end_index": None})
    scores = np.array([p["score"] for p in predictions])
    exp_scores = np.exp(scores - np.max(scores))
    probs = exp_scores / exp_scores.sum()
    return [
        {
            "text": p["text"],
            "offsets": list(p["offsets"]) if p["offsets"] is not None else None,
            "score": float(p["score"]),
            "probability": float(prob),
            "window": p["window"],
            "start_index": p["start_index"],
            "end_index": p["end_index"],
        }
        for p, prob in zip(predictions, probs)
    ]


def generate_qa_postprocess_goldens(out: Path, minilm: Path) -> list[str]:
    """Random start/end logits (float32, seeded) over the windows of the MiniLM cases, some with a planted
    answer, and what utils_qa's post-processing answers."""
    import numpy as np

    rng = np.random.default_rng(QA_GOLDEN_SEED + 1)
    tok = tokenizers.Tokenizer.from_file(str(minilm / "tokenizer.json"))
    cases = []
    all_contexts = _qa_contexts(np.random.default_rng(QA_GOLDEN_SEED))
    for max_len, stride, contexts in ((384, 128, all_contexts[:8]), (64, 16, all_contexts[:2] + all_contexts[6:7])):
        tok.no_padding()
        tok.enable_truncation(max_len, stride=stride, strategy="only_second")
        for question, context, _answer, note in contexts:
            try:
                enc = tok.encode(question, context)
            except Exception:  # noqa: BLE001
                continue
            encs = [enc] + list(enc.overflowing)
            variants = ("random", "planted", "planted too long", "n_best 3") if len(encs) == 1 else ("random", "planted")
            for variant in variants:
                windows = []
                for e in encs:
                    n = len(e.ids)
                    # Short in JSON (Python and Rust round the same f64 to f32), and no two logits of a
                    # window equal (np.argsort orders ties arbitrarily): 2 decimals + a distinct 1e-5 step.
                    start = np.round(np.round(rng.normal(0.0, 2.0, n), 2) + rng.permutation(n) * 1e-5, 5)
                    end = np.round(np.round(rng.normal(0.0, 2.0, n), 2) + rng.permutation(n) * 1e-5, 5)
                    assert len(set(start.tolist())) == n and len(set(end.tolist())) == n, "tied logits"
                    windows.append(
                        {
                            "offsets": [list(o) if s == 1 else None for o, s in zip(e.offsets, e.sequence_ids)],
                            "start_logits": start,
                            "end_logits": end,
                        }
                    )
                if variant.startswith("planted"):
                    w = windows[int(rng.integers(0, len(windows)))]
                    ctx = [i for i, o in enumerate(w["offsets"]) if o is not None]
                    length = 40 if variant == "planted too long" else int(rng.integers(1, 6))
                    i = ctx[int(rng.integers(0, max(1, len(ctx) - length)))]
                    j = min(i + length - 1, ctx[-1])
                    w["start_logits"][i] += 9.0
                    w["end_logits"][j] += 9.0
                    assert len(set(w["start_logits"].tolist())) == len(w["start_logits"]), "tied logits"
                    assert len(set(w["end_logits"].tolist())) == len(w["end_logits"]), "tied logits"
                n_best = 3 if variant == "n_best 3" else 20
                for w in windows:
                    w["start_logits"] = [float(x) for x in w["start_logits"]]
                    w["end_logits"] = [float(x) for x in w["end_logits"]]
                cases.append(
                    {
                        "note": f"{note} ({max_len}/{stride}): {variant}",
                        "context": context,
                        "n_best_size": n_best,
                        "max_answer_length": 30,
                        "windows": windows,
                        "predictions": utils_qa_postprocess(context, windows, n_best, 30),
                    }
                )
    # No valid span: every window's top start logits sit on the question and special tokens.
    enc = tok.encode("Which of these words is the answer to the question?", "no answer here")
    offsets = [list(o) if s == 1 else None for o, s in zip(enc.offsets, enc.sequence_ids)]
    high = [10.0 if o is None else -10.0 for o in offsets]
    windows = [{"offsets": offsets, "start_logits": high, "end_logits": high}]
    cases.append(
        {
            "note": "no valid span in the top 3: 'empty'",
            "context": "no answer here",
            "n_best_size": 3,
            "max_answer_length": 30,
            "windows": windows,
            "predictions": utils_qa_postprocess("no answer here", windows, 3, 30),
        }
    )
    golden = {
        "generator": "xtask/py/generate_fixtures.py qa-goldens",
        "reference": "transformers' examples/pytorch/question-answering/utils_qa.py postprocess_qa_predictions "
        "(version_2_with_negative=False), restated for one example; numpy " + np.__version__,
        "cases": cases,
    }
    write_compact_json(out / QA_POST_GOLDEN_FILE, golden)
    say(f"qa post-processing: {len(cases)} cases")
    return [QA_POST_GOLDEN_FILE]


@subcommand(
    "qa-goldens",
    "write fixtures/qa_windows_golden.json (run_qa.py's context windows and answer positions) and update "
    "its sha256 in manifest.json; needs only `tokenizers`",
    add_tokenizer_goldens_args,
    tokenizers_only=True,
)
def cmd_qa_goldens(args) -> int:
    out: Path = args.out
    files = generate_qa_goldens(out, args.minilm) + generate_qa_postprocess_goldens(out, args.minilm)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    entry = manifest.setdefault("files", {})
    for f in files:
        entry[f] = sha256_file(out / f)
    manifest["files"] = dict(sorted(entry.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# squad-goldens: SQuAD v1.1's exact match and F1, for ft-eval
# ----------------------------------------------------------------------------------------------------

SQUAD_GOLDEN_FILE = "squad_golden.json"


def squad_v11_normalize_answer(s: str) -> str:
    """SQuAD v1.1's official evaluation script, `normalize_answer`: lower case, drop
    `string.punctuation`, replace `\\b(a|an|the)\\b` with a space, collapse whitespace with `str.split`.
    The definitions of that script, restated; what they compute is Python's (`re`, `str.lower`,
    `str.split`), which is the reference ft-eval is checked against."""
    import re
    import string

    text = s.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_v11_f1(prediction: str, truth: str) -> float:
    """The script's `f1_score`: word multiset overlap of the normalised answers; 0 when none."""
    from collections import Counter

    p = squad_v11_normalize_answer(prediction).split()
    t = squad_v11_normalize_answer(truth).split()
    same = sum((Counter(p) & Counter(t)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return (2 * precision * recall) / (precision + recall)


def squad_v11_exact(prediction: str, truth: str) -> float:
    return float(squad_v11_normalize_answer(prediction) == squad_v11_normalize_answer(truth))


def squad_v11_evaluate(predictions: list[str], answers: list[list[str]]) -> dict:
    """The script's `evaluate`: per question the max over its gold answers, then the mean × 100."""
    em = sum(max(squad_v11_exact(p, g) for g in golds) for p, golds in zip(predictions, answers))
    f1 = sum(max(squad_v11_f1(p, g) for g in golds) for p, golds in zip(predictions, answers))
    n = len(predictions)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n, "total": n}


def squad_cases() -> list[dict]:
    """(prediction, gold answers) pairs: the script's edge cases and text in several scripts."""
    pairs = [
        ("Denver Broncos", ["Denver Broncos", "The Denver Broncos"], "exact, and with an article"),
        ("the  DENVER broncos!", ["Denver Broncos"], "case, punctuation, article, spaces"),
        ("Broncos", ["Denver Broncos"], "partial: P 1, R 1/2"),
        ("Denver Broncos of Colorado", ["Denver Broncos"], "partial: P 1/2, R 1"),
        ("", ["Denver Broncos"], "empty prediction"),
        ("Denver", [""], "empty gold answer"),
        ("", [""], "both empty: EM 1, F1 0 in v1.1"),
        ("...", ["!?"], "punctuation only, both sides: EM 1, F1 0"),
        ("the", ["a"], "articles only: EM 1, F1 0"),
        ("an apple a day", ["apple day"], "articles removed"),
        ("theater and anthem", ["theater anthem and"], "article-like word starts are kept; order ignored by F1"),
        ("a-n apple", ["apple"], "punctuation removed before articles: a-n becomes an"),
        ("don't stop", ["dont stop"], "apostrophe removed"),
        ("state-of-the-art", ["state of the art"], "hyphens join the words"),
        ("snake_case name", ["snakecase name"], "underscore is punctuation"),
        ("dog dog dog", ["dog"], "repeated words: multiset overlap 1"),
        ("dog cat", ["cat dog dog"], "multiset overlap 2 of 3"),
        ("Café au lait", ["cafe au lait"], "accents are not stripped"),
        ("CAFÉ", ["café"], "unicode lower case"),
        ("ΟΔΟΣ", ["οδος", "οδός"], "Greek final sigma: lower() gives ς at the end"),
        ("İstanbul", ["istanbul", "i̇stanbul"], "dotted capital I lower-cases to i + combining dot"),
        ("“quoted” — dash", ["quoted dash"], "non-ASCII punctuation is kept"),
        ("x\u00a0y\u2003z", ["x y z"], "no-break and em spaces split words"),
        ("x\u001cy\u001fz", ["x y z"], "str.split splits at U+001C..U+001F too"),
        ("x\u200by", ["x y", "xy"], "zero-width space is not whitespace"),
        ("1,990", ["1990"], "digit grouping comma removed"),
        ("3.14 meters", ["314 meters"], "decimal point removed"),
        ("the the the", [""], "only articles: normalises to nothing"),
        ("a_an the", ["an"], "underscore removed first: a_an becomes the one word aan"),
        ("éa theé", ["éa theé"], "a word character before or after an article keeps it"),
        ("北京 the city", ["北京 city"], "CJK is a word character"),
        ("東京", ["北京"], "different CJK words"),
        ("42", ["41", "42", "forty two"], "max over gold answers"),
        ("in 1990s", ["1990", "the 1990s"], "max F1 from a different answer than max EM"),
        ("\tNew\nYork\r", ["new york"], "tabs and newlines"),
        ("A", ["a"], "capital article"),
    ]
    return [
        {
            "prediction": p,
            "answers": golds,
            "note": note,
            "normalized_prediction": squad_v11_normalize_answer(p),
            "normalized_answers": [squad_v11_normalize_answer(g) for g in golds],
            "exact_match": max(squad_v11_exact(p, g) for g in golds),
            "f1": max(squad_v11_f1(p, g) for g in golds),
        }
        for p, golds, note in pairs
    ]


def generate_squad_goldens(out: Path) -> dict:
    cases = squad_cases()
    corpus = squad_v11_evaluate([c["prediction"] for c in cases], [c["answers"] for c in cases])
    golden = {
        "generator": "xtask/py/generate_fixtures.py squad-goldens",
        "reference": "SQuAD v1.1 official evaluation script (normalize_answer, f1_score, exact_match_score, "
        "metric_max_over_ground_truths, evaluate), restated; Python " + platform.python_version(),
        "tolerance": 1e-12,
        "cases": cases,
        "corpus": corpus,
    }
    write_json(out / SQUAD_GOLDEN_FILE, golden)
    say(f"wrote {describe(out / SQUAD_GOLDEN_FILE)}: {len(cases)} cases, corpus EM {corpus['exact_match']:.4f} "
        f"F1 {corpus['f1']:.4f}")
    return {"cases": len(cases), "corpus": corpus, "python": platform.python_version()}


@subcommand(
    "squad-goldens",
    "write fixtures/squad_golden.json (SQuAD v1.1 EM / F1 of the official script's definitions)",
    add_metrics_goldens_args,
    tokenizers_only=True,
)
def cmd_squad_goldens(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    info = generate_squad_goldens(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.setdefault("cases", {})[SQUAD_GOLDEN_FILE] = info
    files = manifest.setdefault("files", {})
    files[SQUAD_GOLDEN_FILE] = sha256_file(out / SQUAD_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# generate
# ----------------------------------------------------------------------------------------------------


def add_generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="output directory (default: fixtures)")
    p.add_argument("--minilm", type=Path, required=True, help="directory of all-MiniLM-L6-v2 (HF layout)")


@subcommand("generate", "write the tiny models, the goldens and manifest.json", add_generate_args)
def cmd_generate(args) -> int:
    set_determinism()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"generating fixtures into {out} with {versions()}")
    tiny_cases, tiny_info = generate_tiny(out)
    minilm_case = generate_minilm(out, args.minilm)
    train_parity_case = generate_train_parity(out)
    tokenizer_files = generate_tokenizer_goldens(out, args.minilm)
    tokenizer_files += generate_align_goldens(out, args.minilm)

    generated = [
        "tiny_golden.safetensors",
        "minilm_golden.safetensors",
        *tokenizer_files,
        *[f"{d}/{f.name}" for d in ("tiny", "tiny-legacy", "tiny-no-pooler") for f in sorted((out / d).iterdir())],
    ]
    manifest = {
        "generator": "xtask/py/generate_fixtures.py generate",
        "regenerate": "cargo xtask fixtures",
        "versions": versions(),
        "seed": SEED,
        "perturb_seed": PERTURB_SEED,
        "attn_implementation": ATTN,
        "dtype": "float32",
        "device": "cpu",
        "tiny": tiny_info,
        "cases": {
            "tiny_golden.safetensors": tiny_cases,
            "minilm_golden.safetensors": {"default": minilm_case},
        },
        "tensors": {name: tensor_table(out / name) for name in ("tiny_golden.safetensors", "minilm_golden.safetensors")},
        "files": {name: sha256_file(out / name) for name in sorted(generated)},
    }
    add_train_parity_to_manifest(manifest, out, train_parity_case)
    add_metrics_goldens_to_manifest(manifest, out, generate_metrics_goldens(out))
    token_info = generate_token_goldens(out)
    token_info["pipeline"] = generate_token_pipeline_golden(out)
    token_info["train_parity"] = generate_token_train_parity(out)
    add_token_goldens_to_manifest(manifest, out, token_info)
    add_pooling_golden_to_manifest(manifest, out, generate_pooling_golden(out))
    generate_class_weight_goldens(out)
    add_class_weight_goldens_to_manifest(manifest, out)
    write_json(out / "manifest.json", manifest)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    say(f"fixtures total: {total} bytes")
    return 0


# ----------------------------------------------------------------------------------------------------
# token-goldens: BertForTokenClassification on the tiny encoder (forward, loss, one gradient)
# ----------------------------------------------------------------------------------------------------

TOKEN_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
TOKEN_GOLDEN_FILE = "tiny_token_golden.safetensors"
# Seed of the fresh classifier and of the golden's random labels.
TOKEN_SEED = 3
# transformers' CrossEntropyLoss ignore_index.
IGNORE_INDEX = -100


def tiny_token_model(tiny: Path) -> "transformers.BertForTokenClassification":
    """fixtures/tiny's encoder (no pooler) under a fresh 5-label token classifier, perturbed as the rest."""
    from transformers import BertForTokenClassification

    cfg = BertConfig.from_pretrained(str(tiny))
    cfg.num_labels = len(TOKEN_LABELS)
    cfg.id2label = dict(TOKEN_LABELS)
    cfg.label2id = {v: k for k, v in TOKEN_LABELS.items()}
    cfg.problem_type = None
    cfg.architectures = ["BertForTokenClassification"]
    torch.manual_seed(TOKEN_SEED)
    model = BertForTokenClassification(cfg)
    state = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    encoder = {k: v for k, v in state.items() if k.startswith("bert.") and ".pooler." not in k}
    missing, unexpected = model.load_state_dict(encoder, strict=False)
    assert not unexpected, unexpected
    assert sorted(missing) == ["classifier.bias", "classifier.weight"], missing
    gen = torch.Generator().manual_seed(TOKEN_SEED)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, TINY_INIT_STD, generator=gen)
        model.classifier.bias.add_(torch.randn(model.classifier.bias.shape, generator=gen) * PERTURB_STD)
    model.config._attn_implementation = ATTN
    return model.eval()


def token_labels(inputs: dict[str, torch.Tensor], special_ids: set[int]) -> torch.Tensor:
    """Random tags with -100 on padding and special tokens, and on every third real token (as run_ner
    ignores non-first sub-tokens)."""
    gen = torch.Generator().manual_seed(TOKEN_SEED + 1)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    labels = torch.randint(0, len(TOKEN_LABELS), ids.shape, generator=gen)
    special = torch.tensor([[int(i) in special_ids for i in row] for row in ids.tolist()])
    labels[(mask == 0) | special] = IGNORE_INDEX
    positions = torch.arange(ids.shape[1]).expand_as(ids)
    labels[(positions % 3 == 2) & (labels != IGNORE_INDEX)] = IGNORE_INDEX
    return labels


def generate_token_goldens(out: Path) -> dict:
    """Writes fixtures/tiny-token (what transformers' save_pretrained writes) and the golden: logits,
    loss and the classifier's gradient of the batch case, with and without labels."""
    from transformers import AutoModelForTokenClassification

    tiny = out / "tiny"
    model = tiny_token_model(tiny)
    token_dir = fresh_dir(out / "tiny-token")
    model.save_pretrained(str(token_dir), safe_serialization=True)
    copy_tokenizer_files(tiny, token_dir)
    list_dir(token_dir)
    reloaded, info = AutoModelForTokenClassification.from_pretrained(
        str(token_dir), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
    )
    problems = check_loading_info("tiny-token", info)
    assert not problems, problems
    assert type(reloaded).__name__ == "BertForTokenClassification"
    assert reloaded.bert.pooler is None
    reloaded.eval()

    tok = AutoTokenizer.from_pretrained(str(tiny))
    inputs = encode_case(tok, TINY_BATCH, pad_to=TINY_MAX_POSITIONS)
    labels = token_labels(inputs, set(tok.all_special_ids))
    with torch.no_grad():
        logits = reloaded(**inputs, return_dict=True).logits
        mem = model(**inputs, return_dict=True).logits
    assert torch.equal(logits, mem), "save_pretrained round trip changed the logits"
    reloaded.zero_grad()
    out_l = reloaded(**inputs, labels=labels, return_dict=True)
    out_l.loss.backward()
    assert torch.equal(out_l.logits.detach(), logits)
    # The loss by hand: mean cross-entropy over the positions whose label is not -100.
    keep = labels != IGNORE_INDEX
    by_hand = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
    assert abs(float(by_hand) - float(out_l.loss.detach())) < 1e-6
    spread = float((logits.amax((0, 1)) - logits.amin((0, 1))).min())
    say(f"token logits: smallest spread of a label's logit across tokens {spread:.3g}; loss {float(out_l.loss.detach()):.6f}")
    assert spread > 0.05

    tensors = {f"batch.{k}": v for k, v in inputs.items()}
    tensors["batch.labels"] = labels
    tensors["batch.logits"] = logits.to(torch.float32)
    tensors["batch.loss"] = out_l.loss.detach().reshape(1).to(torch.float32)
    tensors["batch.grad.classifier.weight"] = reloaded.classifier.weight.grad.detach().clone()
    tensors["batch.grad.classifier.bias"] = reloaded.classifier.bias.grad.detach().clone()
    save_tensors(out / TOKEN_GOLDEN_FILE, tensors)
    return {
        "labels": TOKEN_LABELS,
        "ignored_labels": int((~keep).sum()),
        "counted_labels": int(keep.sum()),
        "model": "fixtures/tiny's encoder (pooler dropped) + classifier N(0, 0.2) seed 3, bias += N(0, 0.02)",
        "labels_rule": "random tags seed 4; -100 on padding, special tokens and every position p with p % 3 == 2",
    }


# Texts for transformers' token-classification pipeline on fixtures/tiny-token: sub-words (##), an
# unknown token, accents, punctuation, a text longer than the model's 64 positions is not included (the
# pipeline would chunk it; ft truncates).
TOKEN_PIPELINE_TEXTS = [
    "He was good in the film story.",
    "She loved the movie, really!",
    "Unwatchable acting by Peter Blackburn in Paris",
    "the café was boring but fun",
    "you watched it twice (2 times) in 10 days",
    "x",
]
TOKEN_PIPELINE_FILE = "token_pipeline_golden.json"


def generate_token_pipeline_golden(out: Path) -> dict:
    """What transformers' pipeline("token-classification") returns on fixtures/tiny-token for each
    aggregation strategy: entity type, character span, text and score."""
    from transformers import AutoModelForTokenClassification, pipeline

    model = AutoModelForTokenClassification.from_pretrained(
        str(out / "tiny-token"), dtype=torch.float32, attn_implementation=ATTN
    ).eval()
    tok = AutoTokenizer.from_pretrained(str(out / "tiny-token"))
    cases = []
    for strategy in ("simple", "first", "average", "max"):
        nlp = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy=strategy, device="cpu")
        for text, ignore in [(t, i) for t in TOKEN_PIPELINE_TEXTS for i in (["O"], [])]:
            entities = nlp(text, ignore_labels=ignore)
            cases.append(
                {
                    "aggregation": strategy,
                    "ignore_labels": ignore,
                    "text": text,
                    "entities": [
                        {
                            "type": e["entity_group"],
                            "start": int(e["start"]),
                            "end": int(e["end"]),
                            "text": text[int(e["start"]) : int(e["end"])],
                            "score": float(e["score"]),
                        }
                        for e in entities
                    ],
                }
            )
    n = sum(len(c["entities"]) for c in cases)
    kept = sum(len(c["entities"]) for c in cases if c["ignore_labels"])
    assert kept >= 8 and n >= 40, f"only {kept} entities ({n} with O): a weak golden"
    write_json(out / TOKEN_PIPELINE_FILE, {"generator": "token-goldens", "model": "fixtures/tiny-token", "cases": cases})
    say(f"token pipeline golden: {len(cases)} cases, {n} entities")
    return {"cases": len(cases), "entities": n}


TOKEN_TRAIN_PARITY_FILE = "token_train_parity.safetensors"


def generate_token_train_parity(out: Path) -> dict:
    """TRAIN_RECIPE (variant `none`) on fixtures/tiny-token with dropout 0: the 12 micro-batches of
    train-parity, token labels drawn per position (-100 on padding, [CLS]/[SEP] and every position
    p % 3 == 2), accumulation 2, 6 AdamW steps with warmup, decay and clipping. Writes the labels, the
    losses, grad norms, lrs and final parameters."""
    from transformers import BertForTokenClassification

    r = TRAIN_RECIPE
    tiny_token = out / "tiny-token"
    initial = safetensors.torch.load_file(str(tiny_token / "model.safetensors"))
    vocab_size = initial["bert.embeddings.word_embeddings.weight"].shape[0]
    batches = train_parity_batches(vocab_size)
    gen = torch.Generator().manual_seed(TOKEN_SEED + 2)
    for b in batches:
        ids, mask = b["input_ids"], b["attention_mask"]
        labels = torch.randint(0, len(TOKEN_LABELS), ids.shape, generator=gen)
        positions = torch.arange(ids.shape[1]).expand_as(ids)
        labels[(mask == 0) | (ids == 2) | (ids == 3) | (positions % 3 == 2)] = IGNORE_INDEX
        b["labels"] = labels
    def build():
        model = BertForTokenClassification.from_pretrained(
            str(tiny_token),
            dtype=torch.float32,
            attn_implementation=ATTN,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            classifier_dropout=0.0,
        ).train()
        assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
        return model

    losses_t, norms_t, lrs, final, _ = train_parity_run(build, batches, [])
    clipped = int((norms_t > r["max_grad_norm"]).sum())
    say(f"token train-parity: losses {[round(float(x), 4) for x in losses_t]}")
    say(f"token train-parity: grad norms {[round(float(x), 4) for x in norms_t]} ({clipped} clipped)")
    assert torch.isfinite(losses_t).all() and 0 < clipped < r["steps"], (losses_t, norms_t)
    tensors = {f"batch{i}.{k}": v for i, b in enumerate(batches) for k, v in b.items()}
    tensors["losses"] = losses_t
    tensors["grad_norms"] = norms_t
    tensors["lrs"] = lrs
    for n, p in final.items():
        tensors[f"final.{n}"] = p
    save_tensors(out / TOKEN_TRAIN_PARITY_FILE, tensors)
    return {"recipe": "train_parity.json (variant none)", "clipped_steps": clipped, "losses": [float(x) for x in losses_t]}


def add_token_goldens_to_manifest(manifest: dict, out: Path, info: dict) -> None:
    manifest.setdefault("cases", {})[TOKEN_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[TOKEN_GOLDEN_FILE] = tensor_table(out / TOKEN_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    for name in [
        TOKEN_GOLDEN_FILE,
        TOKEN_PIPELINE_FILE,
        TOKEN_TRAIN_PARITY_FILE,
        *[f"tiny-token/{f.name}" for f in sorted((out / "tiny-token").iterdir())],
    ]:
        files[name] = sha256_file(out / name)
    manifest["files"] = dict(sorted(files.items()))


def add_token_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (reads OUT/tiny)")


@subcommand(
    "token-goldens",
    "write fixtures/tiny-token and fixtures/tiny_token_golden.safetensors (also part of `generate`) and record "
    "them in manifest.json",
    add_token_goldens_args,
)
def cmd_token_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    info = generate_token_goldens(out)
    info["pipeline"] = generate_token_pipeline_golden(out)
    info["train_parity"] = generate_token_train_parity(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    add_token_goldens_to_manifest(manifest, out, info)
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# qa-model-goldens: BertForQuestionAnswering on the tiny encoder
# ----------------------------------------------------------------------------------------------------

QA_MODEL_GOLDEN_FILE = "tiny_qa_golden.safetensors"
QA_SEED = 13


def tiny_qa_model(tiny: Path) -> "transformers.BertForQuestionAnswering":
    """fixtures/tiny's encoder (no pooler) under a fresh qa_outputs Linear(H, 2), perturbed as the rest."""
    from transformers import BertForQuestionAnswering

    cfg = BertConfig.from_pretrained(str(tiny))
    cfg.num_labels = 2
    cfg.id2label = {0: "LABEL_0", 1: "LABEL_1"}
    cfg.label2id = {"LABEL_0": 0, "LABEL_1": 1}
    cfg.problem_type = None
    cfg.architectures = ["BertForQuestionAnswering"]
    torch.manual_seed(QA_SEED)
    model = BertForQuestionAnswering(cfg)
    state = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    encoder = {k: v for k, v in state.items() if k.startswith("bert.") and ".pooler." not in k}
    missing, unexpected = model.load_state_dict(encoder, strict=False)
    assert not unexpected, unexpected
    assert sorted(missing) == ["qa_outputs.bias", "qa_outputs.weight"], missing
    gen = torch.Generator().manual_seed(QA_SEED)
    with torch.no_grad():
        model.qa_outputs.weight.normal_(0.0, TINY_INIT_STD, generator=gen)
        model.qa_outputs.bias.add_(torch.randn(model.qa_outputs.bias.shape, generator=gen) * PERTURB_STD)
    model.config._attn_implementation = ATTN
    return model.eval()


def generate_qa_model_goldens(out: Path) -> dict:
    """Writes fixtures/tiny-qa (what transformers' save_pretrained writes) and the golden: start/end
    logits, the loss for answer spans (positions beyond the window clamped and ignored, negative ones
    clamped to 0) and the gradient of qa_outputs, for the tiny batch."""
    from transformers import AutoModelForQuestionAnswering

    tiny = out / "tiny"
    model = tiny_qa_model(tiny)
    qa_dir = fresh_dir(out / "tiny-qa")
    model.save_pretrained(str(qa_dir), safe_serialization=True)
    copy_tokenizer_files(tiny, qa_dir)
    list_dir(qa_dir)
    reloaded, info = AutoModelForQuestionAnswering.from_pretrained(
        str(qa_dir), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
    )
    problems = check_loading_info("tiny-qa", info)
    assert not problems, problems
    assert type(reloaded).__name__ == "BertForQuestionAnswering"
    assert reloaded.bert.pooler is None
    reloaded.eval()

    tok = AutoTokenizer.from_pretrained(str(tiny))
    inputs = encode_case(tok, TINY_BATCH, pad_to=TINY_MAX_POSITIONS)
    t = inputs["input_ids"].shape[1]
    b = inputs["input_ids"].shape[0]
    # Row by row: inside the text, [CLS] (no answer), a start past the window (ignored), an end past
    # it, a negative start (clamped to 0), the last position; more rows repeat the pattern.
    pattern = [(3, 5), (0, 0), (t + 5, 2), (1, t + 1), (-4, 3), (t - 1, t - 1)]
    starts = torch.tensor([pattern[i % len(pattern)][0] for i in range(b)], dtype=torch.long)
    ends = torch.tensor([pattern[i % len(pattern)][1] for i in range(b)], dtype=torch.long)
    with torch.no_grad():
        out_plain = reloaded(**inputs, return_dict=True)
        mem = model(**inputs, return_dict=True)
    assert torch.equal(out_plain.start_logits, mem.start_logits), "save_pretrained round trip changed the logits"
    reloaded.zero_grad()
    out_l = reloaded(**inputs, start_positions=starts, end_positions=ends, return_dict=True)
    out_l.loss.backward()
    logits = torch.stack([out_plain.start_logits, out_plain.end_logits], dim=-1)  # [B, T, 2]
    say(f"qa logits {list(logits.shape)}, loss {float(out_l.loss.detach()):.6f}")
    tensors = {f"batch.{k}": v for k, v in inputs.items()}
    tensors["batch.spans"] = torch.stack([starts, ends], dim=1)
    tensors["batch.logits"] = logits.to(torch.float32)
    tensors["batch.loss"] = out_l.loss.detach().reshape(1).to(torch.float32)
    tensors["batch.grad.qa_outputs.weight"] = reloaded.qa_outputs.weight.grad.detach().clone()
    tensors["batch.grad.qa_outputs.bias"] = reloaded.qa_outputs.bias.grad.detach().clone()
    save_tensors(out / QA_MODEL_GOLDEN_FILE, tensors)
    generate_qa_predict_golden(out, reloaded)
    return {
        "model": "fixtures/tiny's encoder (pooler dropped) + qa_outputs N(0, 0.2) seed 13, bias += N(0, 0.02)",
        "spans": "rows cycle through (3, 5), (0, 0), (T + 5, 2), (1, T + 1), (-4, 3), (T - 1, T - 1); T = 64",
    }


QA_TRAIN_PARITY_FILE = "qa_train_parity.safetensors"


def generate_qa_train_parity(out: Path) -> dict:
    """TRAIN_RECIPE (variant `none`) on fixtures/tiny-qa with dropout 0: the 12 micro-batches of
    train-parity, an answer span drawn per row inside its real tokens (every fourth row (0, 0), the
    [CLS] label of a window without the answer; one row per batch starting past the window, which
    transformers clamps and ignores), accumulation 2, 6 AdamW steps with warmup and decay (this head's
    grad norms, 1.4-2.6, stay under the recipe's clipping threshold 4.0; the other heads' runs clip).
    Writes the spans, the losses, grad norms, lrs and final parameters."""
    from transformers import BertForQuestionAnswering

    r = TRAIN_RECIPE
    tiny_qa = out / "tiny-qa"
    initial = safetensors.torch.load_file(str(tiny_qa / "model.safetensors"))
    vocab_size = initial["bert.embeddings.word_embeddings.weight"].shape[0]
    batches = train_parity_batches(vocab_size)
    gen = torch.Generator().manual_seed(QA_SEED + 2)
    for bi, b in enumerate(batches):
        del b["labels"]  # the sequence labels of train-parity; a QA head takes spans
        lengths = b["attention_mask"].sum(dim=1).tolist()
        t = b["input_ids"].shape[1]
        spans = []
        for row, n in enumerate(lengths):
            start = int(torch.randint(1, max(2, n - 1), (1,), generator=gen))
            end = min(n - 2, start + int(torch.randint(0, 5, (1,), generator=gen)))
            if row % 4 == 3:
                start, end = 0, 0
            elif row == bi % len(lengths):
                start, end = t + 3, end
            spans.append((start, max(end, 0)))
        b["start_positions"] = torch.tensor([s_ for s_, _ in spans], dtype=torch.long)
        b["end_positions"] = torch.tensor([e for _, e in spans], dtype=torch.long)
    def build():
        model = BertForQuestionAnswering.from_pretrained(
            str(tiny_qa),
            dtype=torch.float32,
            attn_implementation=ATTN,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        ).train()
        assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
        return model

    losses_t, norms_t, lrs, final, _ = train_parity_run(build, batches, [])
    clipped = int((norms_t > r["max_grad_norm"]).sum())
    say(f"qa train-parity: losses {[round(float(x), 4) for x in losses_t]}")
    say(f"qa train-parity: grad norms {[round(float(x), 4) for x in norms_t]} ({clipped} clipped)")
    assert torch.isfinite(losses_t).all(), losses_t
    tensors = {}
    for i, b in enumerate(batches):
        for k in ("input_ids", "token_type_ids", "attention_mask"):
            tensors[f"batch{i}.{k}"] = b[k]
        tensors[f"batch{i}.spans"] = torch.stack([b["start_positions"], b["end_positions"]], dim=1)
    tensors["losses"] = losses_t
    tensors["grad_norms"] = norms_t
    tensors["lrs"] = lrs
    for n, p in final.items():
        tensors[f"final.{n}"] = p
    save_tensors(out / QA_TRAIN_PARITY_FILE, tensors)
    return {"recipe": "train_parity.json (variant none)", "clipped_steps": clipped, "losses": [float(x) for x in losses_t]}


QA_PREDICT_GOLDEN_FILE = "qa_predict_golden.json"
QA_PREDICT_CASES = [
    ("Where did they meet?", "They met at the café in Paris, near the river, after a long walk through the old town."),
    ("  Who won the game?", "The Denver Broncos won the game 24 to 10 in the end, and the fans went home happy."),
    ("What time?", "It leaves at 10:30 and arrives at noon; the next one is later, at 14:45, from gate 7."),
    ("Which one?", "x"),
    ("Where is the answer?", " ".join(["The story goes on and on, with many small words in it."] * 5) + " The answer is here."),
]


def generate_qa_predict_golden(out: Path, model) -> None:
    """What fixtures/tiny-qa answers (n-best 20, at most 30 tokens) for a few questions, its context cut
    into windows of 64 tokens sharing 16 (question left-stripped as run_qa does), each window run alone
    by transformers, the answers chosen by utils_qa's post-processing."""
    tok = tokenizers.Tokenizer.from_file(str(out / "tiny-qa" / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(64, stride=16, strategy="only_second")
    cases = []
    for question, context in QA_PREDICT_CASES:
        enc = tok.encode(question.lstrip(), context)
        windows = []
        for e in [enc] + list(enc.overflowing):
            ids = torch.tensor([e.ids])
            with torch.no_grad():
                o = model(input_ids=ids, token_type_ids=torch.tensor([e.type_ids]),
                          attention_mask=torch.ones_like(ids), return_dict=True)
            windows.append(
                {
                    "offsets": [list(x) if s_ == 1 else None for x, s_ in zip(e.offsets, e.sequence_ids)],
                    "start_logits": o.start_logits[0].tolist(),
                    "end_logits": o.end_logits[0].tolist(),
                }
            )
        cases.append(
            {
                "question": question,
                "context": context,
                "windows": len(windows),
                "predictions": utils_qa_postprocess(context, windows, 20, 30),
            }
        )
    write_json(out / QA_PREDICT_GOLDEN_FILE, {
        "generator": "xtask/py/generate_fixtures.py qa-model-goldens",
        "model": "fixtures/tiny-qa",
        "max_len": 64,
        "stride": 16,
        "n_best_size": 20,
        "max_answer_length": 30,
        "cases": cases,
    })


@subcommand(
    "qa-model-goldens",
    "write fixtures/tiny-qa and fixtures/tiny_qa_golden.safetensors and record them in manifest.json",
    add_token_goldens_args,
)
def cmd_qa_model_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    info = generate_qa_model_goldens(out)
    info["train_parity"] = generate_qa_train_parity(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.setdefault("cases", {})[QA_MODEL_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[QA_MODEL_GOLDEN_FILE] = tensor_table(out / QA_MODEL_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    for name in [QA_MODEL_GOLDEN_FILE, QA_PREDICT_GOLDEN_FILE, QA_TRAIN_PARITY_FILE,
                 *[f"tiny-qa/{f.name}" for f in sorted((out / "tiny-qa").iterdir())]]:
        files[name] = sha256_file(out / name)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# verify: transformers loads what ft saved
# ----------------------------------------------------------------------------------------------------


def add_verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="model directory saved by ft (config.json, model.safetensors, tokenizer)")
    p.add_argument(
        "--task",
        choices=["sequence-classification", "token-classification", "question-answering"],
        default="sequence-classification",
        help="the head transformers loads DIR as (its Auto* class)",
    )
    p.add_argument(
        "--golden",
        type=Path,
        default=None,
        help="default: fixtures/tiny_golden.safetensors, or fixtures/tiny_token_golden.safetensors for tokens",
    )
    p.add_argument("--tol", type=float, default=1e-4, help="max abs logits difference (default 1e-4)")
    p.add_argument(
        "--no-tokenizer-check",
        action="store_true",
        help="do not re-tokenize the batch texts from manifest.json and compare input_ids",
    )


@subcommand("verify", "load DIR with transformers and compare batch logits with the golden", add_verify_args)
def cmd_verify(args) -> int:
    set_determinism()
    problems: list[str] = []
    token = args.task == "token-classification"
    qa = args.task == "question-answering"
    if args.golden is None:
        golden_file = QA_MODEL_GOLDEN_FILE if qa else TOKEN_GOLDEN_FILE if token else "tiny_golden.safetensors"
        args.golden = Path("fixtures") / golden_file
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification

    auto = (
        AutoModelForQuestionAnswering if qa else AutoModelForTokenClassification if token
        else AutoModelForSequenceClassification
    )
    try:
        model, info = auto.from_pretrained(
            str(args.dir), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
        )
    except Exception as e:  # noqa: BLE001
        say(f"FAIL: transformers cannot load {args.dir}: {type(e).__name__}: {e}")
        return 1
    problems += check_loading_info(str(args.dir), info)
    model.eval()
    try:
        tok = AutoTokenizer.from_pretrained(str(args.dir))
    except Exception as e:  # noqa: BLE001
        say(f"FAIL: transformers cannot load the tokenizer in {args.dir}: {type(e).__name__}: {e}")
        return 1

    golden = safetensors.torch.load_file(str(args.golden))
    inputs = {k: golden[f"batch.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
    expected = golden["batch.logits"]

    if not args.no_tokenizer_check:
        manifest_path = args.golden.parent / "manifest.json"
        # The token golden's inputs are the sequence golden's batch.
        rows = json.loads(manifest_path.read_text())["cases"]["tiny_golden.safetensors"]["batch"]["rows"]
        items = [(r["text"], r["text_pair"], r["note"]) for r in rows]
        ids = encode_case(tok, items, pad_to=inputs["input_ids"].shape[1])["input_ids"]
        if not torch.equal(ids, inputs["input_ids"]):
            bad = [i for i in range(ids.shape[0]) if not torch.equal(ids[i], inputs["input_ids"][i])]
            problems.append(f"tokenizer: input_ids differ from the golden in rows {bad}")
        else:
            say(f"tokenizer: {type(tok).__name__} reproduces the golden batch input_ids")

    if model.config.num_labels != expected.shape[-1]:
        problems.append(f"num_labels {model.config.num_labels} != golden {expected.shape[-1]}")
    else:
        with torch.no_grad():
            out = model(**inputs, return_dict=True)
            # A QA model's start and end logits, stacked as ft (and the golden) hold them: [B, T, 2].
            logits = torch.stack([out.start_logits, out.end_logits], dim=-1) if qa else out.logits
        diff = max_abs(logits, expected)
        say(f"logits max abs diff: {diff:.3g} (tol {args.tol:g}, {list(logits.shape)})")
        if not diff <= args.tol:
            problems.append(f"logits max abs diff {diff:.3g} > tol {args.tol:g}")

    for p in problems:
        say(f"FAIL: {p}")
    if not problems:
        say(f"OK: transformers loads {args.dir} and reproduces the golden logits")
    return 1 if problems else 0


# ----------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------
# LoRA goldens (ft-model's LoRA, ft-train's loop): PEFT's LoRA on the tiny model, step for step
# ----------------------------------------------------------------------------------------------------

LORA_GOLDEN_FILE = "lora_parity.safetensors"
LORA_INITIAL_DIR = "tiny-lora-initial"
LORA_TRAINED_DIR = "tiny-lora"
# r 4 with alpha 8 (scaling 2, so a missing scale shows); "output.dense" matches both
# attention.output.dense (H → H) and the layer's output.dense (I → H) by PEFT's suffix rule.
# Its grad norms are 1.4-4.0: a max norm of 2.5 clips all but one step (asserted), far from the threshold.
LORA_MAX_GRAD_NORM = 2.5
LORA_SETTINGS = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["query", "value", "output.dense"]}


def peft_parity_run(model, named, decay, batches, max_norm: float, margin: float):
    """TRAIN_RECIPE on `model`'s trainable tensors `named` (AdamW with Trainer's decay groups from
    `decay`, linear warmup and decay, accumulation), clipping the grad norm at `max_norm`; asserts that
    some steps clip and some do not, every pre-clip norm more than `margin` from the threshold. Returns
    the losses, pre-clip norms and learning rates."""
    r = TRAIN_RECIPE
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": r["weight_decay"]},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    params = [p for _, p in named]
    optimizer = torch.optim.AdamW(groups, lr=r["lr"], betas=tuple(r["betas"]), eps=r["eps"])
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=r["warmup_steps"], num_training_steps=r["steps"]
    )
    losses, norms, lrs = [], [], []
    model.train()
    optimizer.zero_grad()
    for i, batch in enumerate(batches):
        loss = model(**batch, return_dict=True).loss
        losses.append(loss.detach().clone())
        (loss / r["grad_accum"]).backward()
        if (i + 1) % r["grad_accum"] == 0:
            lrs.append(scheduler.get_last_lr()[0])
            norms.append(torch.nn.utils.clip_grad_norm_(params, max_norm=max_norm).detach().clone())
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    say(f"pre-clip grad norms: {[round(float(n), 4) for n in norms]}")
    clipped = sum(float(n) > max_norm for n in norms)
    assert 1 <= clipped < len(norms) and all(abs(float(n) - max_norm) > margin for n in norms), norms
    return losses, norms, lrs


def lora_parity_model(tiny: Path):
    import peft

    base = train_parity_model(tiny)
    config = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, **LORA_SETTINGS)
    return peft.get_peft_model(base, config)


def peft_version() -> str:
    import peft

    return peft.__version__


def add_lora_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "lora-goldens",
    "write tiny-lora-initial/, tiny-lora/ (PEFT adapter directories) and lora_parity.safetensors "
    "(train_parity's 6 AdamW steps of PEFT's LoRA on OUT/tiny) and add them to manifest.json",
    add_lora_goldens_args,
)
def cmd_lora_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating LoRA goldens into {out} with {versions()} and peft {peft_version()}")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    info = generate_lora_goldens(out)
    manifest.setdefault("cases", {})[LORA_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[LORA_GOLDEN_FILE] = tensor_table(out / LORA_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[LORA_GOLDEN_FILE] = sha256_file(out / LORA_GOLDEN_FILE)
    for d in (LORA_INITIAL_DIR, LORA_TRAINED_DIR):
        for f in sorted((out / d).iterdir()):
            files[f"{d}/{f.name}"] = sha256_file(f)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


def save_adapter(model, path: Path) -> None:
    """PEFT's `save_pretrained`, with the base recorded as the fixture's name (not a temporary path)."""
    fresh_dir(path)
    model.save_pretrained(str(path))
    (path / "README.md").unlink()  # PEFT's model-card template: nothing ft or PEFT reads
    cfg_path = path / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = "tiny"
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])  # a set in PEFT: its order varies by hash seed
    write_json(cfg_path, cfg)
    say(f"wrote {path}: {sorted(p.name for p in path.iterdir())}")


def generate_lora_goldens(out: Path) -> dict:
    """train_parity's recipe (12 micro-batches, accumulation 2, 6 AdamW steps, warmup, clipping) on
    PEFT's LoRA of OUT/tiny (dropout 0): the adapter before (PEFT's own seeded init) and after, the
    losses, pre-clip grad norms and learning rates, the trained model's logits on tiny_golden's batch,
    and the weights `merge_and_unload` gives."""
    tiny = out / "tiny"
    r = TRAIN_RECIPE
    initial = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    batches = train_parity_batches(initial["bert.embeddings.word_embeddings.weight"].shape[0])

    torch.manual_seed(SEED)
    model = lora_parity_model(tiny)
    save_adapter(model, out / LORA_INITIAL_DIR)
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    say(f"trainable: {trainable}")
    assert all(".lora_A." in n or ".lora_B." in n or ".modules_to_save." in n for n in trainable), trainable
    decay = train_parity_decay_names(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    losses, norms, lrs = peft_parity_run(model, named, decay, batches, LORA_MAX_GRAD_NORM, margin=0.2)
    save_adapter(model, out / LORA_TRAINED_DIR)

    golden = safetensors.torch.load_file(str(out / "tiny_golden.safetensors"))
    inputs = {k: golden[f"batch.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
    model.eval()
    tensors: dict[str, torch.Tensor] = {
        "losses": torch.stack(losses).to(torch.float32),
        "grad_norms": torch.stack(norms).to(torch.float32),
        "lrs": torch.tensor(lrs, dtype=torch.float32),
        "max_grad_norm": torch.tensor([LORA_MAX_GRAD_NORM], dtype=torch.float32),
    }
    with torch.no_grad():
        tensors["logits"] = model(**inputs).logits
        merged = model.merge_and_unload()
        tensors["merged_logits"] = merged(**inputs).logits
        for name, value in merged.state_dict().items():
            if any(name.endswith(f"{t}.weight") for t in LORA_SETTINGS["target_modules"]):
                tensors[f"merged.{name}"] = value.clone()
    for k, v in inputs.items():
        tensors[f"batch.{k}"] = v
    save_tensors(out / LORA_GOLDEN_FILE, tensors)
    return {
        "model": "tiny, every dropout 0",
        "peft": peft_version(),
        "lora": LORA_SETTINGS,
        "task_type": "SEQ_CLS (classifier in modules_to_save)",
        "recipe": f"train_parity.json (batches, accumulation, AdamW groups, schedule), clipping at {LORA_MAX_GRAD_NORM}",
        "initial_adapter": LORA_INITIAL_DIR,
        "trained_adapter": LORA_TRAINED_DIR,
        "logits": "the trained PEFT model (eval) on tiny_golden.safetensors batch.*; merged_logits after merge_and_unload",
    }


# ----------------------------------------------------------------------------------------------------
# Prompt-tuning goldens: PEFT's PROMPT_TUNING on the tiny model, step for step
# ----------------------------------------------------------------------------------------------------

PROMPT_GOLDEN_FILE = "prompt_parity.safetensors"
PROMPT_INITIAL_DIR = "tiny-prompt-initial"
PROMPT_TRAINED_DIR = "tiny-prompt"
PROMPT_VIRTUAL_TOKENS = 5
# Pre-clip grad norms of this run are printed by the generator; the threshold clips some steps and not
# others (asserted), far from each norm.
PROMPT_MAX_GRAD_NORM = 2.0


def add_prompt_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "prompt-goldens",
    "write tiny-prompt-initial/, tiny-prompt/ (PEFT prompt-tuning adapters) and prompt_parity.safetensors "
    "(train_parity's 6 AdamW steps of PEFT's prompt tuning on OUT/tiny) and add them to manifest.json",
    add_prompt_goldens_args,
)
def cmd_prompt_goldens(args) -> int:
    import peft

    set_determinism()
    out: Path = args.out
    say(f"generating prompt-tuning goldens into {out} with {versions()} and peft {peft_version()}")
    tiny = out / "tiny"
    r = TRAIN_RECIPE
    initial = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    batches = train_parity_batches(initial["bert.embeddings.word_embeddings.weight"].shape[0])

    torch.manual_seed(SEED)
    config = peft.PromptTuningConfig(
        task_type=peft.TaskType.SEQ_CLS, num_virtual_tokens=PROMPT_VIRTUAL_TOKENS, prompt_tuning_init="RANDOM"
    )
    model = peft.get_peft_model(train_parity_model(tiny), config)
    save_adapter(model, out / PROMPT_INITIAL_DIR)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    say(f"trainable: {[n for n, _ in named]}")
    from transformers.trainer import Trainer

    # Trainer's rule on the trainable tensors (the PEFT model also lists the frozen word embeddings a
    # second time, as `word_embeddings.weight`): the prompt embedding decays, the classifier bias not.
    decay = set(Trainer.get_decay_parameter_names(None, model))
    assert {n for n, _ in named if n in decay} == {n for n, _ in named if "bias" not in n}, decay
    losses, norms, lrs = peft_parity_run(model, named, decay, batches, PROMPT_MAX_GRAD_NORM, margin=0.05)
    save_adapter(model, out / PROMPT_TRAINED_DIR)

    golden = safetensors.torch.load_file(str(out / "tiny_golden.safetensors"))
    # Rows of at most 64 - 5 tokens: the virtual tokens take positions too.
    inputs = {k: golden[f"batch.{k}"][:, : 64 - PROMPT_VIRTUAL_TOKENS] for k in ("input_ids", "token_type_ids", "attention_mask")}
    model.eval()
    tensors = {
        "losses": torch.stack(losses).to(torch.float32),
        "grad_norms": torch.stack(norms).to(torch.float32),
        "lrs": torch.tensor(lrs, dtype=torch.float32),
        "max_grad_norm": torch.tensor([PROMPT_MAX_GRAD_NORM], dtype=torch.float32),
    }
    with torch.no_grad():
        tensors["logits"] = model(**inputs).logits
    for k, v in inputs.items():
        tensors[f"batch.{k}"] = v
    save_tensors(out / PROMPT_GOLDEN_FILE, tensors)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.setdefault("cases", {})[PROMPT_GOLDEN_FILE] = {
        "model": "tiny, every dropout 0",
        "peft": peft_version(),
        "prompt_tuning": {"num_virtual_tokens": PROMPT_VIRTUAL_TOKENS, "prompt_tuning_init": "RANDOM"},
        "task_type": "SEQ_CLS (classifier in modules_to_save)",
        "recipe": f"train_parity.json (batches, accumulation, AdamW groups, schedule), clipping at {PROMPT_MAX_GRAD_NORM}",
        "initial_adapter": PROMPT_INITIAL_DIR,
        "trained_adapter": PROMPT_TRAINED_DIR,
        "logits": f"the trained PEFT model (eval) on tiny_golden.safetensors batch.* cut to {64 - PROMPT_VIRTUAL_TOKENS} tokens",
    }
    manifest.setdefault("tensors", {})[PROMPT_GOLDEN_FILE] = tensor_table(out / PROMPT_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[PROMPT_GOLDEN_FILE] = sha256_file(out / PROMPT_GOLDEN_FILE)
    for d in (PROMPT_INITIAL_DIR, PROMPT_TRAINED_DIR):
        for f in sorted((out / d).iterdir()):
            files[f"{d}/{f.name}"] = sha256_file(f)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# Bottleneck-adapter goldens: a PyTorch reference module (ft's documented format), step for step
# ----------------------------------------------------------------------------------------------------

BOTTLENECK_GOLDEN_FILE = "bottleneck_parity.safetensors"
BOTTLENECK_REDUCTION = 4  # bottleneck = H / 4 = 8 on the tiny model
BOTTLENECK_MAX_GRAD_NORM = 2.5


class Bottleneck(torch.nn.Module):
    """Houlsby et al. (2019)'s adapter: `z + up(act(down(z)))`, `down` H → H/reduction and `up` back,
    with biases; `up` starts at zero (the adapter starts as the identity), `down` ~ N(0, 0.02)."""

    def __init__(self, hidden: int, reduction: int, act: str):
        super().__init__()
        self.down = torch.nn.Linear(hidden, hidden // reduction)
        self.up = torch.nn.Linear(hidden // reduction, hidden)
        self.act = {"relu": torch.nn.functional.relu, "swish": torch.nn.functional.silu}[act]
        torch.nn.init.normal_(self.down.weight, std=0.02)
        torch.nn.init.zeros_(self.down.bias)
        torch.nn.init.zeros_(self.up.weight)
        torch.nn.init.zeros_(self.up.bias)

    def forward(self, z):
        return z + self.up(self.act(self.down(z)))


def add_bottleneck(model, architecture: str, reduction: int, act: str):
    """Puts a `Bottleneck` into BERT's output blocks as ft does: `LayerNorm(adapter(dropout(dense(h)))
    + input)` — after the FFN output (`output.adapter`) for both architectures, and after the attention
    output (`attention.output.adapter`) for Houlsby. Freezes everything but the adapters, every
    LayerNorm and the classifier."""
    hidden = model.config.hidden_size

    def patch(block):
        block.adapter = Bottleneck(hidden, reduction, act)

        def forward(hidden_states, input_tensor, block=block):
            hidden_states = block.dropout(block.dense(hidden_states))
            return block.LayerNorm(block.adapter(hidden_states) + input_tensor)

        block.forward = forward

    for layer in model.bert.encoder.layer:
        if architecture == "houlsby":
            patch(layer.attention.output)
        patch(layer.output)
    for name, p in model.named_parameters():
        p.requires_grad_(".adapter." in name or "LayerNorm" in name or name.startswith("classifier."))
    return model


def add_bottleneck_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "bottleneck-goldens",
    "write bottleneck_parity.safetensors: train_parity's 6 AdamW steps of the tiny model with Houlsby "
    "bottleneck adapters (the reference module in this file) and add it to manifest.json",
    add_bottleneck_goldens_args,
)
def cmd_bottleneck_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating bottleneck-adapter goldens into {out} with {versions()}")
    tiny = out / "tiny"
    r = TRAIN_RECIPE
    initial = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    batches = train_parity_batches(initial["bert.embeddings.word_embeddings.weight"].shape[0])
    torch.manual_seed(SEED)
    model = add_bottleneck(train_parity_model(tiny), "houlsby", BOTTLENECK_REDUCTION, "relu")
    tensors: dict[str, torch.Tensor] = {
        f"initial.{n}": p.detach().clone() for n, p in model.named_parameters() if ".adapter." in n
    }
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = train_parity_decay_names(model)
    losses, norms, lrs = peft_parity_run(model, named, decay, batches, BOTTLENECK_MAX_GRAD_NORM, margin=0.05)
    tensors.update({f"final.{n}": p.detach().clone() for n, p in named})
    tensors["losses"] = torch.stack(losses).to(torch.float32)
    tensors["grad_norms"] = torch.stack(norms).to(torch.float32)
    tensors["lrs"] = torch.tensor(lrs, dtype=torch.float32)
    tensors["max_grad_norm"] = torch.tensor([BOTTLENECK_MAX_GRAD_NORM], dtype=torch.float32)
    save_tensors(out / BOTTLENECK_GOLDEN_FILE, tensors)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.setdefault("cases", {})[BOTTLENECK_GOLDEN_FILE] = {
        "model": "tiny, every dropout 0",
        "adapter": f"Houlsby (attention.output and output), reduction {BOTTLENECK_REDUCTION}, relu; Bottleneck in generate_fixtures.py",
        "trainable": "adapters, every LayerNorm, the classifier",
        "recipe": f"train_parity.json (batches, accumulation, AdamW groups, schedule), clipping at {BOTTLENECK_MAX_GRAD_NORM}",
    }
    manifest.setdefault("tensors", {})[BOTTLENECK_GOLDEN_FILE] = tensor_table(out / BOTTLENECK_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[BOTTLENECK_GOLDEN_FILE] = sha256_file(out / BOTTLENECK_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# Prefix-tuning goldens: P-tuning v2's key/value prefixes, a PyTorch reference (PEFT 0.21.2's
# PREFIX_TUNING refuses BERT on transformers 5.24: "Model does not support past key values")
# ----------------------------------------------------------------------------------------------------

PREFIX_GOLDEN_FILE = "prefix_parity.safetensors"
PREFIX_VIRTUAL_TOKENS = 4
PREFIX_MAX_GRAD_NORM = 1.5


def add_prefix(model, p: int, base: str = "bert"):
    """Learned key and value prefixes of `p` positions in every layer's self-attention (P-tuning v2,
    PEFT's PREFIX_TUNING without projection): the keys and values of the layer are `[prefix; K x]` and
    `[prefix; V x]`, the mask attends the prefix, the queries are the text's only. Prefixes ~ N(0, 1)
    (`nn.Embedding`'s init, as PEFT). Freezes everything but the prefixes and the classifier."""
    from transformers.models.bert.modeling_bert import eager_attention_forward

    hidden = model.config.hidden_size
    for layer in getattr(model, base).encoder.layer:
        sa = layer.attention.self
        sa.prefix_key = torch.nn.Parameter(torch.randn(p, hidden))
        sa.prefix_value = torch.nn.Parameter(torch.randn(p, hidden))

        def forward(hidden_states, attention_mask=None, cache=None, sa=sa, **kwargs):
            b, t = hidden_states.shape[:2]
            hd = sa.attention_head_size
            heads = lambda x: x.view(b, x.shape[1], -1, hd).transpose(1, 2)  # noqa: E731
            q = heads(sa.query(hidden_states))
            k = heads(torch.cat([sa.prefix_key.expand(b, -1, -1), sa.key(hidden_states)], 1))
            v = heads(torch.cat([sa.prefix_value.expand(b, -1, -1), sa.value(hidden_states)], 1))
            if attention_mask is not None:
                pad = attention_mask.new_ones if attention_mask.dtype == torch.bool else attention_mask.new_zeros
                attention_mask = torch.cat([pad(*attention_mask.shape[:-1], p), attention_mask], -1)
            out, weights = eager_attention_forward(
                sa, q, k, v, attention_mask, dropout=0.0 if not sa.training else sa.dropout.p, scaling=sa.scaling
            )
            return out.reshape(b, t, -1).contiguous(), weights

        sa.forward = forward
    for name, param in model.named_parameters():
        param.requires_grad_(".prefix_" in name or name.startswith("classifier."))
    return model


def prefix_as_peft(model, base: str = "bert") -> torch.Tensor:
    """The prefixes in PEFT's `prompt_embeddings` layout: `[P, L·2·H]`, layer l's key at columns
    2l·H.., its value at (2l+1)·H.."""
    parts = []
    for layer in getattr(model, base).encoder.layer:
        parts += [layer.attention.self.prefix_key, layer.attention.self.prefix_value]
    return torch.cat(parts, 1).detach().clone()


def add_prefix_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "prefix-goldens",
    "write prefix_parity.safetensors: train_parity's 6 AdamW steps of the tiny model with key/value "
    "prefixes (the reference module in this file) and add it to manifest.json",
    add_prefix_goldens_args,
)
def cmd_prefix_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating prefix-tuning goldens into {out} with {versions()}")
    tiny = out / "tiny"
    r = TRAIN_RECIPE
    initial = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    batches = train_parity_batches(initial["bert.embeddings.word_embeddings.weight"].shape[0])
    torch.manual_seed(SEED)
    model = add_prefix(train_parity_model(tiny), PREFIX_VIRTUAL_TOKENS)
    tensors: dict[str, torch.Tensor] = {"initial.prompt_embeddings": prefix_as_peft(model)}
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = train_parity_decay_names(model)
    losses, norms, lrs = peft_parity_run(model, named, decay, batches, PREFIX_MAX_GRAD_NORM, margin=0.05)
    tensors["final.prompt_embeddings"] = prefix_as_peft(model)
    tensors["final.classifier.weight"] = model.classifier.weight.detach().clone()
    tensors["final.classifier.bias"] = model.classifier.bias.detach().clone()
    tensors["losses"] = torch.stack(losses).to(torch.float32)
    tensors["grad_norms"] = torch.stack(norms).to(torch.float32)
    tensors["lrs"] = torch.tensor(lrs, dtype=torch.float32)
    tensors["max_grad_norm"] = torch.tensor([PREFIX_MAX_GRAD_NORM], dtype=torch.float32)
    save_tensors(out / PREFIX_GOLDEN_FILE, tensors)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.setdefault("cases", {})[PREFIX_GOLDEN_FILE] = {
        "model": "tiny, every dropout 0",
        "prefix": f"{PREFIX_VIRTUAL_TOKENS} key/value positions per layer, N(0, 1); add_prefix in generate_fixtures.py; PEFT's prompt_embeddings layout",
        "trainable": "the prefixes, the classifier",
        "recipe": f"train_parity.json (batches, accumulation, AdamW groups, schedule), clipping at {PREFIX_MAX_GRAD_NORM}",
    }
    manifest.setdefault("tensors", {})[PREFIX_GOLDEN_FILE] = tensor_table(out / PREFIX_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[PREFIX_GOLDEN_FILE] = sha256_file(out / PREFIX_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


def add_verify_adapter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="an `ft train --peft lora` output directory")
    p.add_argument("--base", type=Path, required=True, help="the base model directory it was trained from")
    p.add_argument("--golden", type=Path, default=Path("fixtures/tiny_golden.safetensors"), help="inputs (batch.*)")
    p.add_argument("--family", choices=sorted(FAMILY_DIRS), help="read the inputs of this family from "
                   "families_golden.safetensors (FAMILY.*) instead of batch.*")
    p.add_argument("--tol", type=float, default=1e-4)


@subcommand(
    "verify-adapter",
    "load RUN/adapter onto BASE with peft (PeftModel.from_pretrained) and RUN itself with transformers; "
    "exit 0 when their logits on GOLDEN's batch agree within TOL",
    add_verify_adapter_args,
)
def cmd_verify_adapter(args) -> int:
    import peft

    set_determinism()
    run: Path = args.run
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    labels = {int(k): v for k, v in config["id2label"].items()}
    task = json.loads((run / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))["task_type"]
    auto = {
        "SEQ_CLS": AutoModelForSequenceClassification,
        "TOKEN_CLS": transformers.AutoModelForTokenClassification,
        "QUESTION_ANS": transformers.AutoModelForQuestionAnswering,
    }[task]
    base = auto.from_pretrained(str(args.base), dtype=torch.float32, num_labels=len(labels), ignore_mismatched_sizes=True)
    adapted = peft.PeftModel.from_pretrained(base, str(run / "adapter")).eval()
    merged = auto.from_pretrained(str(run), dtype=torch.float32).eval()
    if args.family:
        batch = safetensors.torch.load_file(str(Path("fixtures") / FAMILY_GOLDEN_FILE))
        inputs = {k: batch[f"{args.family}.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
        inputs = model_inputs(args.family, inputs)
    else:
        batch = safetensors.torch.load_file(str(args.golden))
        inputs = {k: batch[f"batch.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}

    def outputs(model):
        # peft 0.21.2's PeftModelForQuestionAnswering.forward drops token_type_ids for LoRA (it passes
        # input_ids, attention_mask, inputs_embeds and the positions on, not token_type_ids), so a
        # question/context pair is read as one segment there; the wrapped LoraModel passes them on.
        if task == "QUESTION_ANS" and isinstance(model, peft.PeftModel):
            model = model.base_model
        out = model(**inputs)
        return torch.cat([out.start_logits, out.end_logits]) if task == "QUESTION_ANS" else out.logits

    with torch.no_grad():
        a = outputs(adapted)
        m = outputs(merged)
    diff = float((a - m).abs().max())
    say(f"peft {peft.__version__} ({task}): {run / 'adapter'} on {args.base} vs transformers on {run}: max abs diff {diff:.2e} "
        f"over {a.numel()} logits (tolerance {args.tol:g})")
    return 0 if diff <= args.tol else 1


# ----------------------------------------------------------------------------------------------------
# explain-goldens: attributions of the tiny classifier by Captum (issue 17, `ft explain`)
# ----------------------------------------------------------------------------------------------------

EXPLAIN_GOLDEN_FILE = "explain_golden.safetensors"
# (text, pair): words of the tiny vocabulary, a word piece, a pair.
EXPLAIN_CASES = [
    ("the movie was really good", None),
    ("awful boring acting, but i love the story!", None),
    ("is it good?", "yes, it is the best film ever"),
]
# (method, n_steps) of Captum's IntegratedGradients approximations.
EXPLAIN_IG = [("gausslegendre", 50), ("riemann_trapezoid", 50), ("gausslegendre", 300)]


def explain_baseline(input_ids: torch.Tensor, special_ids: set[int], pad_id: int) -> torch.Tensor:
    """Captum's BERT-tutorial baseline: every token but the special ones ([CLS], [SEP]) replaced by
    [PAD]; positions and token types stay the input's."""
    keep = torch.tensor([[int(i) in special_ids for i in row] for row in input_ids.tolist()])
    return torch.where(keep, input_ids, torch.full_like(input_ids, pad_id))


def attention_rollout(attentions) -> np.ndarray:
    """Abnar & Zuidema's attention rollout in NumPy: per layer the heads' mean A, Â = 0.5·A + 0.5·I,
    R = Â_L · … · Â_1; returns R `[T, T]` (row i: how much position i's last state draws on each input)."""
    rollout = None
    for layer in attentions:
        a = layer[0].detach().double().numpy().mean(axis=0)  # [T, T]
        a_hat = 0.5 * a + 0.5 * np.eye(a.shape[0])
        rollout = a_hat if rollout is None else a_hat @ rollout
    return rollout


def generate_explain_golden(out: Path) -> dict:
    """Writes fixtures/explain_golden.safetensors: for each of EXPLAIN_CASES on OUT/tiny (eval mode),
    the target (the predicted class) and its softmax probability F at the input and at the baseline;
    Captum 0.9.0's LayerIntegratedGradients on `bert.embeddings.word_embeddings` (F as the forward
    function, the [PAD] baseline, each (method, n_steps) of EXPLAIN_IG) with its convergence delta;
    LayerGradientXActivation on the same layer (gradient × input); and the attention rollout of the
    eager attention probabilities (NumPy, `attention_rollout`). Returns the case info for the manifest."""
    import captum
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    model = BertForSequenceClassification.from_pretrained(str(out / "tiny"), dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    tok = BertTokenizerFast.from_pretrained(str(out / "tiny"))
    special = {tok.cls_token_id, tok.sep_token_id}

    def prob(input_ids, token_type_ids, attention_mask, target):
        logits = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask).logits
        return torch.softmax(logits, dim=-1)[:, target]

    layer = model.bert.embeddings.word_embeddings
    tensors: dict[str, torch.Tensor] = {}
    cases = []
    for i, (text, pair) in enumerate(EXPLAIN_CASES):
        enc = tok(text, pair, return_tensors="pt")
        ids, types, mask = enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]
        base = explain_baseline(ids, special, tok.pad_token_id)
        with torch.no_grad():
            out_x = model(input_ids=ids, token_type_ids=types, attention_mask=mask, output_attentions=True)
            target = int(out_x.logits.argmax(-1))
            f_x = float(torch.softmax(out_x.logits, -1)[0, target])
            f_base = float(prob(base, types, mask, target)[0])
        p = f"case{i}."
        tensors[p + "input_ids"] = ids[0]
        tensors[p + "token_type_ids"] = types[0]
        tensors[p + "baseline_ids"] = base[0]
        tensors[p + "target"] = torch.tensor([target])
        tensors[p + "f"] = torch.tensor([f_x, f_base], dtype=torch.float32)
        lig = LayerIntegratedGradients(prob, layer)
        for method, steps in EXPLAIN_IG:
            attr, delta = lig.attribute(inputs=ids, baselines=base, additional_forward_args=(types, mask, target),
                                        n_steps=steps, method=method, return_convergence_delta=True)
            key = f"{p}ig.{method}.{steps}"
            tensors[key] = attr[0].detach()  # [T, H]
            tensors[key + ".delta"] = delta.detach().float()
        gxa = LayerGradientXActivation(prob, layer)
        tensors[p + "grad_x_input"] = gxa.attribute(ids, additional_forward_args=(types, mask, target))[0].detach()
        tensors[p + "rollout"] = torch.from_numpy(attention_rollout(out_x.attentions)).float()
        cases.append({"text": text, "pair": pair, "tokens": tok.convert_ids_to_tokens(ids[0]), "target": target,
                      "f": f_x, "f_baseline": f_base})
    token_info = explain_token_golden(out, tensors)
    qa_info = explain_qa_golden(out, tensors)
    save_tensors(out / EXPLAIN_GOLDEN_FILE, tensors)
    return {
        "token": token_info,
        "qa": qa_info,
        "model": "tiny (eval mode, eager attention)",
        "captum": captum.__version__,
        "forward": "softmax probability of the target class (the predicted one)",
        "baseline": "[CLS] + [PAD]… + [SEP] (special tokens kept), the input's positions and token types",
        "ig": "LayerIntegratedGradients on bert.embeddings.word_embeddings: " + ", ".join(f"{m} {n}" for m, n in EXPLAIN_IG),
        "grad_x_input": "LayerGradientXActivation on bert.embeddings.word_embeddings",
        "rollout": "NumPy: heads' mean, 0.5·A + 0.5·I, product over layers (attention_rollout)",
        "cases": cases,
    }


EXPLAIN_TOKEN_TEXT = "the movie was really good"
EXPLAIN_QA = ("what was good?", "the movie was really good, but the acting was bad")


def explain_token_golden(out: Path, tensors: dict) -> dict:
    """tiny-token: F = the mean over the first three words' tokens of the softmax probability of the
    label predicted there (`ft explain`'s entity score); LayerIntegratedGradients, Gauss-Legendre 50."""
    from captum.attr import LayerIntegratedGradients

    model = transformers.BertForTokenClassification.from_pretrained(str(out / "tiny-token"), dtype=torch.float32,
                                                                    attn_implementation="eager").eval()
    tok = BertTokenizerFast.from_pretrained(str(out / "tiny"))
    enc = tok(EXPLAIN_TOKEN_TEXT, return_tensors="pt")
    ids, types, mask = enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]
    base = explain_baseline(ids, {tok.cls_token_id, tok.sep_token_id}, tok.pad_token_id)
    with torch.no_grad():
        labels = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits[0].argmax(-1)
    picks = [(j, int(labels[j])) for j in (1, 2, 3)]

    def score(input_ids, token_type_ids, attention_mask):
        probs = torch.softmax(model(input_ids=input_ids, token_type_ids=token_type_ids,
                                    attention_mask=attention_mask).logits, dim=-1)
        return sum(probs[:, j, k] for j, k in picks) / len(picks)

    with torch.no_grad():
        f = [float(score(ids, types, mask)[0]), float(score(base, types, mask)[0])]
    lig = LayerIntegratedGradients(score, model.bert.embeddings.word_embeddings)
    attr, delta = lig.attribute(inputs=ids, baselines=base, additional_forward_args=(types, mask), n_steps=50,
                                method="gausslegendre", return_convergence_delta=True)
    tensors["token.input_ids"] = ids[0]
    tensors["token.baseline_ids"] = base[0]
    tensors["token.picks"] = torch.tensor(picks, dtype=torch.int64)
    tensors["token.f"] = torch.tensor(f, dtype=torch.float32)
    tensors["token.ig.gausslegendre.50"] = attr[0].detach()
    tensors["token.ig.gausslegendre.50.delta"] = delta.detach().float()
    return {"text": EXPLAIN_TOKEN_TEXT, "model": "tiny-token", "picks": picks,
            "forward": "mean over picks (token, label) of the softmax probability"}


def explain_qa_golden(out: Path, tensors: dict) -> dict:
    """tiny-qa: F = the softmax over the tokens of the start (end) logits at the arg-max start (end)
    among the context's tokens (`ft explain`'s span scores); LayerIntegratedGradients, Gauss-Legendre 50."""
    from captum.attr import LayerIntegratedGradients

    model = transformers.BertForQuestionAnswering.from_pretrained(str(out / "tiny-qa"), dtype=torch.float32,
                                                                 attn_implementation="eager").eval()
    tok = BertTokenizerFast.from_pretrained(str(out / "tiny"))
    question, context = EXPLAIN_QA
    enc = tok(question, context, return_tensors="pt")
    ids, types, mask = enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]
    base = explain_baseline(ids, {tok.cls_token_id, tok.sep_token_id}, tok.pad_token_id)
    in_context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])
    with torch.no_grad():
        out_x = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    info = {"question": question, "context": context, "model": "tiny-qa"}
    for k, name in ((0, "start"), (1, "end")):
        logits = (out_x.start_logits if k == 0 else out_x.end_logits)[0]
        position = int(torch.where(in_context, logits, torch.full_like(logits, -1e9)).argmax())

        def score(input_ids, token_type_ids, attention_mask, k=k, position=position):
            o = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
            return torch.softmax(o.start_logits if k == 0 else o.end_logits, dim=-1)[:, position]

        with torch.no_grad():
            f = [float(score(ids, types, mask)[0]), float(score(base, types, mask)[0])]
        lig = LayerIntegratedGradients(score, model.bert.embeddings.word_embeddings)
        attr, delta = lig.attribute(inputs=ids, baselines=base, additional_forward_args=(types, mask), n_steps=50,
                                    method="gausslegendre", return_convergence_delta=True)
        tensors[f"qa.{name}.position"] = torch.tensor([position])
        tensors[f"qa.{name}.f"] = torch.tensor(f, dtype=torch.float32)
        tensors[f"qa.{name}.ig.gausslegendre.50"] = attr[0].detach()
        tensors[f"qa.{name}.ig.gausslegendre.50.delta"] = delta.detach().float()
        info[name] = position
    tensors["qa.input_ids"] = ids[0]
    tensors["qa.token_type_ids"] = types[0]
    tensors["qa.baseline_ids"] = base[0]
    return info


def add_explain_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "explain-goldens",
    "write explain_golden.safetensors (Captum's integrated gradients, gradient × input and a NumPy attention rollout on OUT/tiny) and add it to manifest.json",
    add_explain_goldens_args,
)
def cmd_explain_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating explain goldens into {out} with {versions()}")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    info = generate_explain_golden(out)
    manifest.setdefault("cases", {})[EXPLAIN_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[EXPLAIN_GOLDEN_FILE] = tensor_table(out / EXPLAIN_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[EXPLAIN_GOLDEN_FILE] = sha256_file(out / EXPLAIN_GOLDEN_FILE)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# ----------------------------------------------------------------------------------------------------
# family-goldens: RoBERTa, XLM-RoBERTa, DistilBERT and ELECTRA as transformers builds them (tiny,
# random), their tokenizers (byte-level BPE, Unigram, WordPiece), forward goldens for the three heads
# and RoBERTa's step parity
# ----------------------------------------------------------------------------------------------------

FAMILY_SEED = 40
FAMILY_MAX_LEN = 64  # tokens per input (RoBERTa's table has 2 more rows: padding index 1, then 2..)
FAMILY_DIRS = {
    "roberta": "tiny-roberta", "xlm-roberta": "tiny-xlmr", "distilbert": "tiny-distilbert", "electra": "tiny-electra",
    # model_type deberta-v2 both: v3's settings (shared position keys, log buckets, normalised relative
    # embeddings, no absolute positions or token types), and v2's (separate position projections,
    # clamped relative positions, absolute positions and token types, the convolution after layer 0).
    "deberta-v3": "tiny-deberta-v3", "deberta-v2": "tiny-deberta-v2",
    # three layers (global, local, global), a local window of ±4 so that 64 tokens reach past it,
    # mean pooling, no biases: ModernBERT-base's settings, scaled down.
    "modernbert": "tiny-modernbert",
}
# Families whose token and QA heads ft does not build yet: the golden holds their sequence head only.
FAMILY_SEQUENCE_ONLY: set[str] = set()
FAMILY_GOLDEN_FILE = "families_golden.safetensors"
ROBERTA_TRAIN_PARITY_FILE = "roberta_train_parity.safetensors"
DEBERTA_TRAIN_PARITY_FILE = "deberta_train_parity.safetensors"
FAMILY_TOKENIZER_GOLDENS = {
    "roberta": "tokenizer_golden_roberta.json", "xlm-roberta": "tokenizer_golden_xlmr.json",
    "deberta-v3": "tokenizer_golden_deberta.json",
}
# DeBERTa-v3's special tokens and ids ([MASK] comes last, after the pieces).
DEBERTA_SPECIALS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
# <s> <pad> </s> <unk> <mask>: RoBERTa's and XLM-R's first ids.
FAMILY_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# The base model's attribute in each family's heads (the checkpoint's name prefix).
FAMILY_BASE = {
    "roberta": "roberta", "xlm-roberta": "roberta", "distilbert": "distilbert", "electra": "electra",
    "deberta-v3": "deberta", "deberta-v2": "deberta", "modernbert": "model",
}


def family_corpus() -> list[str]:
    """What the tiny BPE and Unigram vocabularies are trained on: the golden texts, the tiny word list,
    and the tokenizer cases' fixed texts (so that their pieces are not all single bytes)."""
    texts = [t for t, _p, _n in TINY_BATCH] + [p for _t, p, _n in TINY_BATCH if p]
    texts += [" ".join(WORDS[i : i + 8]) for i in range(0, len(WORDS), 8)]
    texts += [t for t, _p, _m, _n in TOKENIZER_CASES_FIXED if t.isascii()]
    return texts


def unigram_pieces(specials: list[str]) -> list[tuple[str, float]]:
    """A hand-made Unigram vocabulary (the Unigram trainer is not deterministic from run to run): the
    special tokens, whole words, then word-initial letters, letters, digits, punctuation and suffixes."""
    pieces = [(name, 0.0) for name in specials]
    seen = set(specials)
    for score, group in (
        (-3.0, ["\u2581" + w for w in WORDS]),
        (-4.0, ["\u2581"] + [s.removeprefix("##") for s in SUFFIXES]),
        (-5.0, LETTERS + [c.upper() for c in LETTERS] + DIGITS + PUNCTUATION),
        (-5.5, ["\u2581" + c for c in LETTERS]),
    ):
        for i, piece in enumerate(group):
            if piece not in seen:
                seen.add(piece)
                pieces.append((piece, score - 0.001 * i))
    return pieces


def deberta_tokenizer():
    """transformers' own DebertaV2Tokenizer (Unigram over Metaspace, `[CLS] A [SEP] B [SEP]` with type
    ids 0/1) on the tiny Unigram vocabulary, with DeBERTa-v3's ids: [PAD] 0, [CLS] 1, [SEP] 2,
    [UNK] 3, [MASK] last."""
    from transformers import DebertaV2Tokenizer

    vocab = unigram_pieces(DEBERTA_SPECIALS) + [("[MASK]", 0.0)]
    tok = DebertaV2Tokenizer(vocab=vocab, unk_id=3, model_max_length=FAMILY_MAX_LEN)
    for i, name in enumerate(DEBERTA_SPECIALS + ["[MASK]"]):
        assert tok.convert_tokens_to_ids(name) == (i if name != "[MASK]" else len(vocab) - 1), (name, tok.convert_tokens_to_ids(name))
    return tok


def family_tokenizer(family: str) -> tokenizers.Tokenizer:
    """RoBERTa: byte-level BPE (RobertaProcessing); XLM-R: Unigram over Metaspace (its template);
    DistilBERT and ELECTRA: the tiny BERT WordPiece vocabulary."""
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers

    if family == "roberta":
        tok = tokenizers.Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=FAMILY_SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(family_corpus(), trainer)
        tok.post_processor = processors.RobertaProcessing(
            sep=("</s>", 2), cls_token=("<s>", 0), trim_offsets=True, add_prefix_space=False
        )
    elif family == "xlm-roberta":
        pieces = unigram_pieces(FAMILY_SPECIALS)
        tok = tokenizers.Tokenizer(models.Unigram(pieces, unk_id=3, byte_fallback=False))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.add_special_tokens(FAMILY_SPECIALS)
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
        )
    else:
        raise ValueError(family)
    for i, name in enumerate(FAMILY_SPECIALS):
        assert tok.token_to_id(name) == i, (family, name, tok.token_to_id(name))
    return tok


def family_config(family: str, vocab_size: int, pad_id: int):
    from transformers import DebertaV2Config, DistilBertConfig, ElectraConfig, RobertaConfig, XLMRobertaConfig

    labels = dict(
        num_labels=3,
        id2label=dict(TINY_LABELS),
        label2id={v: k for k, v in TINY_LABELS.items()},
        problem_type="single_label_classification",
        initializer_range=TINY_INIT_STD,
        pad_token_id=pad_id,
        vocab_size=vocab_size,
    )
    bert_like = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    if family in ("roberta", "xlm-roberta"):
        cls = RobertaConfig if family == "roberta" else XLMRobertaConfig
        return cls(
            **bert_like, **labels, max_position_embeddings=FAMILY_MAX_LEN + 2, type_vocab_size=1,
            layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2,
        )
    if family == "distilbert":
        return DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=FAMILY_MAX_LEN, **labels)
    if family == "electra":
        return ElectraConfig(**bert_like, **labels, embedding_size=16, max_position_embeddings=FAMILY_MAX_LEN, type_vocab_size=2)
    if family == "deberta-v3":
        # microsoft/deberta-v3-*'s settings, with 8 buckets so that 64 tokens reach the log buckets.
        return DebertaV2Config(
            **bert_like, **labels, max_position_embeddings=FAMILY_MAX_LEN, type_vocab_size=0,
            relative_attention=True, position_buckets=8, max_relative_positions=-1, pos_att_type=["p2c", "c2p"],
            share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False, layer_norm_eps=1e-7,
            pooler_hidden_size=32, pooler_dropout=0, pooler_hidden_act="gelu",
        )
    if family == "deberta-v2":
        # microsoft/deberta-v2-xlarge's extras (the convolution) with the other branches of the code:
        # separate position projections, no buckets (relative positions clamped to ±16), absolute
        # positions and token types, no LayerNorm on the relative embeddings.
        return DebertaV2Config(
            **bert_like, **labels, max_position_embeddings=FAMILY_MAX_LEN, type_vocab_size=2,
            relative_attention=True, position_buckets=-1, max_relative_positions=16, pos_att_type="c2p|p2c",
            share_att_key=False, norm_rel_ebd="none", position_biased_input=True, layer_norm_eps=1e-7,
            conv_kernel_size=3, conv_act="gelu", pooler_dropout=0, pooler_hidden_act="tanh",
        )
    if family == "modernbert":
        from transformers import ModernBertConfig

        return ModernBertConfig(
            **{**bert_like, "num_hidden_layers": 3}, **{k: v for k, v in labels.items() if k != "initializer_range"},
            initializer_range=TINY_INIT_STD, max_position_embeddings=FAMILY_MAX_LEN, bos_token_id=2, eos_token_id=3,
            cls_token_id=2, sep_token_id=3, local_attention=8, global_attn_every_n_layers=2,
            global_rope_theta=160000.0, local_rope_theta=10000.0, classifier_pooling="mean",
            hidden_activation="gelu", classifier_activation="gelu",
        )
    raise ValueError(family)


def perturbed(model, seed: int):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * PERTURB_STD)
    model.config._attn_implementation = ATTN
    return model.eval()


def family_inputs(family: str, tok: tokenizers.Tokenizer, pad_id: int) -> dict[str, torch.Tensor]:
    """TINY_BATCH through the family's tokenizer (truncated `longest_first` to FAMILY_MAX_LEN), right-padded."""
    tok.no_padding()
    tok.enable_truncation(FAMILY_MAX_LEN, strategy="longest_first")
    encs = [tok.encode(text, pair) for text, pair, _note in TINY_BATCH]
    tok.no_truncation()
    t = max(len(e.ids) for e in encs)
    assert t == FAMILY_MAX_LEN, t
    out = {
        "input_ids": torch.full((len(encs), t), pad_id, dtype=torch.int64),
        "token_type_ids": torch.zeros(len(encs), t, dtype=torch.int64),
        "attention_mask": torch.zeros(len(encs), t, dtype=torch.int64),
    }
    for i, e in enumerate(encs):
        n = len(e.ids)
        out["input_ids"][i, :n] = torch.tensor(e.ids)
        out["token_type_ids"][i, :n] = torch.tensor(e.type_ids)
        out["attention_mask"][i, :n] = 1
    return out


def model_inputs(family: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What transformers' tokenizer of the family hands the model: RoBERTa's, XLM-R's and DistilBERT's
    give no token_type_ids (the model uses zeros); ELECTRA's and DeBERTa's give them as BERT's do."""
    with_types = family in ("electra", "deberta-v3", "deberta-v2")  # ModernBERT's forward takes none
    keys = ("input_ids", "token_type_ids", "attention_mask") if with_types else ("input_ids", "attention_mask")
    return {k: inputs[k] for k in keys}


def generate_family(out: Path, family: str, index: int, tensors: dict) -> dict:
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification, PreTrainedTokenizerFast

    target = fresh_dir(out / FAMILY_DIRS[family])
    if family in ("roberta", "xlm-roberta"):
        tok = family_tokenizer(family)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
            cls_token="<s>", pad_token="<pad>", mask_token="<mask>", model_max_length=FAMILY_MAX_LEN,
        )
        fast.save_pretrained(str(target))
        pad_id = 1
    elif family.startswith("deberta"):
        deberta_tokenizer().save_pretrained(str(target))
        pad_id = 0
    else:
        work = Path(tempfile.mkdtemp(prefix="ft-fixtures-"))
        vocab_path = work / "vocab.txt"
        vocab_path.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
        write_tokenizer_files(tiny_tokenizer(vocab_path), vocab_path, target)
        pad_id = 0
    tok = tokenizers.Tokenizer.from_file(str(target / "tokenizer.json"))
    vocab_size = tok.get_vocab_size(with_added_tokens=True)

    torch.manual_seed(FAMILY_SEED + index)
    cfg = family_config(family, vocab_size, pad_id)
    model = perturbed(AutoModelForSequenceClassification.from_config(cfg, attn_implementation=ATTN), FAMILY_SEED + 10 + index)
    model.save_pretrained(str(target), safe_serialization=True)
    for f in target.iterdir():
        assert f.suffix != ".bin" and f.stat().st_size < 300_000, f
    list_dir(target)

    inputs = family_inputs(family, tok, pad_id)
    feed = model_inputs(family, inputs)
    base = getattr(model, FAMILY_BASE[family])
    with torch.no_grad():
        logits = model(**feed).logits
        hidden = base(**feed).last_hidden_state
    f = family
    for k, v in inputs.items():
        tensors[f"{f}.{k}"] = v
    tensors[f"{f}.last_hidden_state"] = hidden
    tensors[f"{f}.logits"] = logits
    if family == "modernbert":
        # The same weights read through classifier_pooling "cls" (ModernBERT's default).
        model.config.classifier_pooling = "cls"
        with torch.no_grad():
            tensors[f"{f}.cls_logits"] = model(**feed).logits
        model.config.classifier_pooling = "mean"

    # The token and QA heads on the same encoder: fresh seeded heads, the encoder's weights copied.
    reloaded = {}
    heads = () if family in FAMILY_SEQUENCE_ONLY else (
        ("token", AutoModelForTokenClassification, len(TOKEN_LABELS)), ("qa", AutoModelForQuestionAnswering, 2),
    )
    for task, auto, num_labels in heads:
        head_cfg = family_config(family, vocab_size, pad_id)
        head_cfg.num_labels = num_labels
        head_cfg.problem_type = None
        torch.manual_seed(FAMILY_SEED + 20 + index)
        head_model = perturbed(auto.from_config(head_cfg, attn_implementation=ATTN), FAMILY_SEED + 30 + index)
        missing, unexpected = getattr(head_model, FAMILY_BASE[family]).load_state_dict(base.state_dict(), strict=False)
        assert not unexpected and all("pooler" in m for m in missing), (missing, unexpected)
        with torch.no_grad():
            head_logits = head_model(**feed)
        head_logits = head_logits.logits if task == "token" else torch.stack([head_logits.start_logits, head_logits.end_logits], -1)
        tensors[f"{f}.{task}.logits"] = head_logits
        base_names = {f"{FAMILY_BASE[family]}.{k}" for k in base.state_dict()}
        head_tensors = {k: v for k, v in head_model.state_dict().items() if k not in base_names}
        # ModernBERT's token and QA heads: `head` (dense, norm) → dropout → `classifier` (QA's too).
        modern = {"head.dense.weight", "head.norm.weight", "classifier.weight", "classifier.bias"}
        assert set(head_tensors) in ({"classifier.weight", "classifier.bias"}, {"qa_outputs.weight", "qa_outputs.bias"}, modern), head_tensors.keys()
        for k, v in head_tensors.items():
            tensors[f"{f}.{task}.{k}"] = v
        reloaded[task] = sorted(head_tensors)
    names = sorted(safetensors.torch.load_file(str(target / "model.safetensors")))
    say(f"{family}: {len(names)} tensors, e.g. {names[:3]}; logits {logits[0].tolist()}")
    return {
        "dir": FAMILY_DIRS[family],
        "model_type": cfg.model_type,
        "architectures": cfg.architectures or [type(model).__name__],
        "tensors": names,
        "pad_token_id": pad_id,
        "heads": reloaded,
        "model_inputs": sorted(feed),
    }


MODERNBERT_TRAIN_PARITY_FILE = "modernbert_train_parity.safetensors"


def roberta_batches(batches: list[dict]) -> list[dict]:
    """RoBERTa's ids for train-parity's batches: <s> 0, </s> 2, padding 1, no token types."""
    for b in batches:
        ids, mask = b["input_ids"], b["attention_mask"]
        ids = torch.where(ids == 2, torch.zeros_like(ids), torch.where(ids == 3, torch.full_like(ids, 2), ids))
        b["input_ids"] = torch.where(mask == 0, torch.ones_like(ids), ids)
        b["token_type_ids"] = torch.zeros_like(ids)
    return batches


def deberta_batches(batches: list[dict]) -> list[dict]:
    """DeBERTa's ids for train-parity's batches: [CLS] 1, [SEP] 2, padding 0."""
    for b in batches:
        ids = b["input_ids"]
        b["input_ids"] = torch.where(ids == 2, torch.ones_like(ids), torch.where(ids == 3, torch.full_like(ids, 2), ids))
    return batches


# family → (class, the word-embedding tensor, ids one below the vocabulary's end for [MASK], the
# batches' ids, extra from_pretrained arguments, whether its forward takes token_type_ids, the file,
# what the recipe runs through)
FAMILY_TRAIN_PARITY = {
    "roberta": (
        "RobertaForSequenceClassification", "roberta.embeddings.word_embeddings.weight", 0, roberta_batches,
        {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "classifier_dropout": 0.0}, True,
        ROBERTA_TRAIN_PARITY_FILE, "dropout 0",
    ),
    "deberta-v3": (
        "DebertaV2ForSequenceClassification", "deberta.embeddings.word_embeddings.weight", 1, deberta_batches,
        {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "pooler_dropout": 0.0}, True,
        DEBERTA_TRAIN_PARITY_FILE, "dropout 0",
    ),
    "modernbert": (
        "ModernBertForSequenceClassification", "model.embeddings.tok_embeddings.weight", 0, lambda b: b, {}, False,
        MODERNBERT_TRAIN_PARITY_FILE, "dropouts 0",
    ),
}


def generate_family_train_parity(out: Path, family: str) -> dict:
    """TRAIN_RECIPE (variant `none`) on fixtures/tiny-<family> with dropout 0: train-parity's batches with
    the family's ids, 6 AdamW steps — RoBERTa's positions after the padding index and its classification
    head; DeBERTa-v3's gathers, shared position keys and normalised relative embeddings; ModernBERT's
    rotary positions, local window, gated MLPs, pre-LayerNorm residuals and mean-pooled `head`. A forward
    that takes no token_type_ids (ModernBERT) is fed none; the file keeps zeros."""
    cls_name, embeddings, last_special, remap, kwargs, with_types, file, note = FAMILY_TRAIN_PARITY[family]
    cls = getattr(transformers, cls_name)
    r = TRAIN_RECIPE
    tiny = out / FAMILY_DIRS[family]
    initial = safetensors.torch.load_file(str(tiny / "model.safetensors"))
    batches = remap(train_parity_batches(initial[embeddings].shape[0] - last_special))
    feed = batches if with_types else [{k: v for k, v in b.items() if k != "token_type_ids"} for b in batches]

    def build():
        model = cls.from_pretrained(str(tiny), dtype=torch.float32, attn_implementation=ATTN, **kwargs).train()
        assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
        return model

    model = build()
    decay = train_parity_decay_names(model)
    losses_t, norms_t, lrs, final, _ = train_parity_run(build, feed, [])
    clipped = int((norms_t > r["max_grad_norm"]).sum())
    say(f"{family} train-parity: losses {[round(float(x), 4) for x in losses_t]}")
    say(f"{family} train-parity: grad norms {[round(float(x), 4) for x in norms_t]} ({clipped} clipped)")
    assert torch.isfinite(losses_t).all() and 0 < clipped <= r["steps"], (losses_t, norms_t)
    tensors = {f"batch{i}.{k}": v for i, b in enumerate(batches) for k, v in b.items()}
    if not with_types:
        for i, b in enumerate(batches):
            tensors[f"batch{i}.token_type_ids"] = torch.zeros_like(b["input_ids"])
    tensors["losses"] = losses_t
    tensors["grad_norms"] = norms_t
    tensors["lrs"] = lrs
    for n, p in final.items():
        tensors[f"final.{n}"] = p
    save_tensors(out / file, tensors)
    return {
        "recipe": f"train_parity.json (variant none) on {FAMILY_DIRS[family]}, {note}",
        "clipped_steps": clipped,
        "losses": [float(x) for x in losses_t],
        "decay_parameters": sorted(decay),
    }


def family_tokenizer_golden(out: Path, family: str) -> str:
    """tokenizer-goldens' cases through the family's tokenizer.json (Python tokenizers), same format."""
    model_dir = out / FAMILY_DIRS[family]
    raw = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    rows = _encode_all(raw, tokenizer_cases(), FAMILY_MAX_LEN)
    pad_token = "[PAD]" if family.startswith("deberta") else "<pad>"
    pad_id = raw.token_to_id(pad_token)
    batch = _padded_batch(raw, [r["text"] for r in rows[:PADDED_BATCH_CASES]], FAMILY_MAX_LEN, pad_id, pad_token)
    golden = {
        "generator": "xtask/py/generate_fixtures.py family-goldens",
        "versions": {"python": platform.python_version(), "tokenizers": tokenizers.__version__},
        "tokenizer": family,
        "tokenizer_call": "as tokenizer_golden_tiny.json, on fixtures/" + FAMILY_DIRS[family] + "/tokenizer.json",
        "pad_token_id": pad_id,
        "cases": rows,
        "padded_batch": {
            "call": f"tokenizer([case.text for case in cases[0:{PADDED_BATCH_CASES}]], truncation=True, "
            f"max_length={FAMILY_MAX_LEN}, padding='longest')",
            **batch,
        },
    }
    path = out / FAMILY_TOKENIZER_GOLDENS[family]
    write_compact_json(path, golden)
    unk = raw.token_to_id("[UNK]" if family.startswith("deberta") else "<unk>")
    say(f"{family} tokenizer: {len(rows)} cases, unk {sum(r['input_ids'].count(unk) for r in rows)}")
    return path.name


def add_family_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "family-goldens",
    "write fixtures/tiny-{roberta,xlmr,distilbert,electra,deberta-v3,deberta-v2}, families_golden.safetensors, "
    "{roberta,deberta}_train_parity.safetensors and tokenizer_golden_{roberta,xlmr,deberta}.json, and add them "
    "to manifest.json",
    add_family_goldens_args,
)
def cmd_family_goldens(args) -> int:
    set_determinism()
    out: Path = args.out
    say(f"generating family goldens into {out} with {versions()}")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    tensors: dict[str, torch.Tensor] = {}
    info = {family: generate_family(out, family, i, tensors) for i, family in enumerate(FAMILY_DIRS)}
    save_tensors(out / FAMILY_GOLDEN_FILE, tensors)
    for family in FAMILY_TRAIN_PARITY:
        info[f"{family.split('-')[0]}_train_parity"] = generate_family_train_parity(out, family)
    written = [FAMILY_GOLDEN_FILE, ROBERTA_TRAIN_PARITY_FILE, DEBERTA_TRAIN_PARITY_FILE, MODERNBERT_TRAIN_PARITY_FILE]
    written += [family_tokenizer_golden(out, f) for f in FAMILY_TOKENIZER_GOLDENS]
    manifest.setdefault("cases", {})[FAMILY_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[FAMILY_GOLDEN_FILE] = tensor_table(out / FAMILY_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    for name in written:
        files[name] = sha256_file(out / name)
    for d in FAMILY_DIRS.values():
        for f in sorted((out / d).iterdir()):
            files[f"{d}/{f.name}"] = sha256_file(f)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


# PEFT's LoRA on the other families: (golden key, fixture, target_modules, modules_to_save). PEFT's
# default targets for RoBERTa and DeBERTa-v2 (it has none for DistilBERT: its attention's q_lin/v_lin);
# modules_to_save with the head's own dense layer where it is a module of its own (PEFT's default,
# ["classifier"], would leave DistilBERT's pre_classifier and DeBERTa's pooler at their random init
# and out of the file).
FAMILY_LORA = [
    ("roberta", "tiny-roberta", ["query", "value"], ["classifier"]),
    ("distilbert", "tiny-distilbert", ["q_lin", "v_lin"], ["pre_classifier", "classifier"]),
    ("deberta-v3", "tiny-deberta-v3", ["query_proj", "value_proj"], ["pooler", "classifier"]),
    # ModernBERT's fused Wqkv (one branch for the three) and both its Wo (attention and MLP).
    ("modernbert", "tiny-modernbert", ["Wqkv", "Wo"], ["head", "classifier"]),
]
FAMILY_LORA_GOLDEN_FILE = "families_lora_golden.safetensors"
FAMILY_LORA_SEED = 60
# PEFT's prompt tuning on the families (5 virtual tokens), the head's own dense layer in
# modules_to_save as for LoRA (ModernBERT's `head`).
FAMILY_PROMPT = [
    ("roberta", "tiny-roberta", ["classifier"]),
    ("distilbert", "tiny-distilbert", ["pre_classifier", "classifier"]),
    ("deberta-v3", "tiny-deberta-v3", ["pooler", "classifier"]),
    ("modernbert", "tiny-modernbert", ["head", "classifier"]),
]
FAMILY_PROMPT_GOLDEN_FILE = "families_prompt_golden.safetensors"
# Prefix tuning where the attention has no positions of its own (RoBERTa's and ELECTRA's are BERT's).
FAMILY_PREFIX = [("roberta", "tiny-roberta"), ("electra", "tiny-electra")]
FAMILY_PREFIX_GOLDEN_FILE = "families_prefix_golden.safetensors"


def family_peft_adapter(out: Path, fixture: str, suffix: str, seed: int, noise_seed: int, make_config):
    """PEFT's adapter `make_config(base)` on fixtures/<fixture>, every trainable tensor perturbed
    (N(0, 0.1) from `noise_seed`) so that each one matters, saved as fixtures/<fixture>-<suffix> with the
    fixture named as its base. Returns the model (eval mode) and the adapter directory."""
    import peft

    torch.manual_seed(seed)
    base = AutoModelForSequenceClassification.from_pretrained(str(out / fixture), dtype=torch.float32, attn_implementation=ATTN)
    model = peft.get_peft_model(base, make_config(base))
    gen = torch.Generator().manual_seed(noise_seed)
    with torch.no_grad():
        for _name, param in model.named_parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=gen) * 0.1)
    model.eval()
    adapter_dir = out / f"{fixture}-{suffix}"
    save_adapter(model, adapter_dir)
    cfg_path = adapter_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = fixture
    write_json(cfg_path, cfg)
    return model, adapter_dir


def add_family_lora_goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("fixtures"), help="fixtures directory (default: fixtures)")


@subcommand(
    "family-lora-goldens",
    "write fixtures/tiny-{roberta,distilbert,deberta-v3}-lora and tiny-{…,modernbert}-prompt (PEFT LoRA and "
    "prompt-tuning adapters on the family fixtures, trainable tensors perturbed so that every one matters) and "
    "families_{lora,prompt}_golden.safetensors (their logits on families_golden's batch), and add them to "
    "manifest.json",
    add_family_lora_goldens_args,
)
def cmd_family_lora_goldens(args) -> int:
    import peft

    set_determinism()
    out: Path = args.out
    say(f"generating family LoRA goldens into {out} with {versions()}, peft {peft.__version__}")
    golden = safetensors.torch.load_file(str(out / FAMILY_GOLDEN_FILE))
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    tensors: dict[str, torch.Tensor] = {}
    info = {}
    for i, (key, fixture, targets, to_save) in enumerate(FAMILY_LORA):
        model, adapter_dir = family_peft_adapter(
            out, fixture, "lora", FAMILY_LORA_SEED + i, FAMILY_LORA_SEED + 10 + i,
            lambda base: peft.LoraConfig(
                task_type=peft.TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0,
                target_modules=targets, modules_to_save=to_save,
            ),
        )
        inputs = {k: golden[f"{key}.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
        with torch.no_grad():
            tensors[f"{key}.logits"] = model(**model_inputs(key, inputs)).logits
            tensors[f"{key}.merged_logits"] = model.merge_and_unload()(**model_inputs(key, inputs)).logits
        names = sorted(safetensors.torch.load_file(str(adapter_dir / "adapter_model.safetensors")))
        say(f"{fixture}: adapter tensors {names[:4]} … ({len(names)}); logits {tensors[f'{key}.logits'][0].tolist()}")
        info[key] = {"fixture": fixture, "adapter": adapter_dir.name, "target_modules": targets,
                     "modules_to_save": to_save, "tensors": names}
    save_tensors(out / FAMILY_LORA_GOLDEN_FILE, tensors)
    prompt_tensors: dict[str, torch.Tensor] = {}
    prompt_info = {}
    for i, (key, fixture, to_save) in enumerate(FAMILY_PROMPT):
        model, adapter_dir = family_peft_adapter(
            out, fixture, "prompt", FAMILY_LORA_SEED + 20 + i, FAMILY_LORA_SEED + 30 + i,
            lambda base: peft.PromptTuningConfig(
                task_type=peft.TaskType.SEQ_CLS, num_virtual_tokens=PROMPT_VIRTUAL_TOKENS, prompt_tuning_init="RANDOM",
                modules_to_save=to_save,
                # What PEFT reads from the config by BERT's names (DistilBERT's `dim` is not among them).
                token_dim=base.config.hidden_size, num_attention_heads=base.config.num_attention_heads,
                num_layers=base.config.num_hidden_layers,
            ),
        )
        cut = FAMILY_MAX_LEN - PROMPT_VIRTUAL_TOKENS  # the virtual tokens take positions too
        inputs = {k: golden[f"{key}.{k}"][:, :cut] for k in ("input_ids", "token_type_ids", "attention_mask")}
        with torch.no_grad():
            prompt_tensors[f"{key}.logits"] = model(**model_inputs(key, inputs)).logits
        names = sorted(safetensors.torch.load_file(str(adapter_dir / "adapter_model.safetensors")))
        say(f"{fixture} prompt: adapter tensors {names}; logits {prompt_tensors[f'{key}.logits'][0].tolist()}")
        prompt_info[key] = {"fixture": fixture, "adapter": adapter_dir.name, "modules_to_save": to_save,
                            "tensors": names, "inputs": f"families_golden {key}.* cut to {cut} tokens"}
    save_tensors(out / FAMILY_PROMPT_GOLDEN_FILE, prompt_tensors)
    # Prefix tuning on the families whose attention has no positions of its own: add_prefix's module
    # (PEFT 0.21.2 cannot run prefix tuning on these models with transformers 5.24), the adapter
    # written in PEFT's layout as ft reads it.
    prefix_tensors: dict[str, torch.Tensor] = {}
    for i, (key, fixture) in enumerate(FAMILY_PREFIX):
        torch.manual_seed(FAMILY_LORA_SEED + 40 + i)
        base = AutoModelForSequenceClassification.from_pretrained(
            str(out / fixture), dtype=torch.float32, attn_implementation=ATTN
        )
        model = add_prefix(base, PREFIX_VIRTUAL_TOKENS, FAMILY_BASE[key]).eval()
        gen = torch.Generator().manual_seed(FAMILY_LORA_SEED + 50 + i)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.startswith("classifier."):
                    param.add_(torch.randn(param.shape, generator=gen) * 0.1)
        adapter_dir = fresh_dir(out / f"{fixture}-prefix")
        head = {f"base_model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items() if k.startswith("classifier.")}
        save_tensors(adapter_dir / "adapter_model.safetensors", {"prompt_embeddings": prefix_as_peft(model, FAMILY_BASE[key]), **head})
        write_json(adapter_dir / "adapter_config.json", {
            "peft_type": "PREFIX_TUNING", "task_type": "SEQ_CLS", "base_model_name_or_path": fixture,
            "num_virtual_tokens": PREFIX_VIRTUAL_TOKENS, "token_dim": model.config.hidden_size,
            "num_transformer_submodules": 1, "num_attention_heads": model.config.num_attention_heads,
            "num_layers": model.config.num_hidden_layers, "encoder_hidden_size": model.config.hidden_size,
            "prefix_projection": False, "modules_to_save": ["classifier"], "inference_mode": True,
        })
        inputs = {k: golden[f"{key}.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
        with torch.no_grad():
            prefix_tensors[f"{key}.logits"] = model(**model_inputs(key, inputs)).logits
        say(f"{fixture} prefix: logits {prefix_tensors[f'{key}.logits'][0].tolist()}")
    save_tensors(out / FAMILY_PREFIX_GOLDEN_FILE, prefix_tensors)
    manifest.setdefault("cases", {})[FAMILY_PREFIX_GOLDEN_FILE] = {
        "model": "tiny-roberta, tiny-electra (their dropout as saved; eval)",
        "prefix": f"{PREFIX_VIRTUAL_TOKENS} key/value positions per layer, N(0, 1), add_prefix in generate_fixtures.py",
        "adapters": [f"{fixture}-prefix" for _k, fixture in FAMILY_PREFIX],
        "logits": "on families_golden's batch of each family",
    }
    manifest.setdefault("tensors", {})[FAMILY_PREFIX_GOLDEN_FILE] = tensor_table(out / FAMILY_PREFIX_GOLDEN_FILE)
    manifest.setdefault("cases", {})[FAMILY_PROMPT_GOLDEN_FILE] = prompt_info
    manifest.setdefault("tensors", {})[FAMILY_PROMPT_GOLDEN_FILE] = tensor_table(out / FAMILY_PROMPT_GOLDEN_FILE)
    manifest.setdefault("cases", {})[FAMILY_LORA_GOLDEN_FILE] = info
    manifest.setdefault("tensors", {})[FAMILY_LORA_GOLDEN_FILE] = tensor_table(out / FAMILY_LORA_GOLDEN_FILE)
    files = manifest.setdefault("files", {})
    files[FAMILY_LORA_GOLDEN_FILE] = sha256_file(out / FAMILY_LORA_GOLDEN_FILE)
    files[FAMILY_PROMPT_GOLDEN_FILE] = sha256_file(out / FAMILY_PROMPT_GOLDEN_FILE)
    files[FAMILY_PREFIX_GOLDEN_FILE] = sha256_file(out / FAMILY_PREFIX_GOLDEN_FILE)
    dirs = [f"{fixture}-lora" for _k, fixture, _t, _m in FAMILY_LORA] + [f"{fixture}-prompt" for _k, fixture, _m in FAMILY_PROMPT]
    dirs += [f"{fixture}-prefix" for _k, fixture in FAMILY_PREFIX]
    for d in dirs:
        for f in sorted((out / d).iterdir()):
            files[f"{d}/{f.name}"] = sha256_file(f)
    manifest["files"] = dict(sorted(files.items()))
    write_json(manifest_path, manifest)
    return 0


def add_verify_family_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="a model directory ft saved from fixtures/tiny-<family>")
    p.add_argument("--family", required=True, choices=sorted(FAMILY_DIRS), help="the golden's family")
    p.add_argument("--golden", type=Path, default=Path("fixtures") / FAMILY_GOLDEN_FILE)


@subcommand(
    "verify-family",
    "load DIR with transformers' AutoModelForSequenceClassification and compare its logits with the family golden",
    add_verify_family_args,
)
def cmd_verify_family(args) -> int:
    set_determinism()
    model, info = AutoModelForSequenceClassification.from_pretrained(
        str(args.dir), dtype=torch.float32, attn_implementation=ATTN, output_loading_info=True
    )
    problems = check_loading_info(str(args.dir), info)
    golden = safetensors.torch.load_file(str(args.golden))
    f = args.family
    inputs = {k: golden[f"{f}.{k}"] for k in ("input_ids", "token_type_ids", "attention_mask")}
    with torch.no_grad():
        logits = model.eval()(**model_inputs(f, inputs)).logits
    d = max_abs(logits, golden[f"{f}.logits"])
    say(f"{args.dir}: {type(model).__name__}, logits max abs diff vs {args.golden}: {d:.3g}")
    for p in problems:
        say(p)
    return 0 if d <= 1e-4 and not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, _fn) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    if MISSING_STACK is not None and args.command not in TOKENIZERS_ONLY:
        say(
            f"{args.command} needs the pinned stack of xtask/requirements.txt ({MISSING_STACK}); "
            "run it through `cargo xtask fixtures`, which creates that virtualenv"
        )
        return 2
    return SUBCOMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
