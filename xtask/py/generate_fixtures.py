#!/usr/bin/env python3
"""Reference fixtures for ft, computed with the pinned PyTorch / transformers stack.

Run through `cargo xtask fixtures` (which creates the virtualenv from `xtask/requirements.txt` and
resolves the real MiniLM model), or directly:

    python xtask/py/generate_fixtures.py generate --out fixtures --minilm DIR
    python xtask/py/generate_fixtures.py verify DIR [--golden fixtures/tiny_golden.safetensors]

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

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import tokenizers  # noqa: E402
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


def subcommand(name: str, help: str, add_args):
    """Registers `fn(args) -> int` as subcommand `name`; `add_args(parser)` declares its arguments."""

    def register(fn):
        SUBCOMMANDS[name] = (help, add_args, fn)
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


@torch.no_grad()
def forward_cls(model, inputs) -> dict[str, torch.Tensor]:
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

    generated = [
        "tiny_golden.safetensors",
        "minilm_golden.safetensors",
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
    write_json(out / "manifest.json", manifest)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    say(f"fixtures total: {total} bytes")
    return 0


# ----------------------------------------------------------------------------------------------------
# verify: transformers loads what ft saved
# ----------------------------------------------------------------------------------------------------


def add_verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="model directory saved by ft (config.json, model.safetensors, tokenizer)")
    p.add_argument("--golden", type=Path, default=Path("fixtures/tiny_golden.safetensors"))
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
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
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
        rows = json.loads(manifest_path.read_text())["cases"][args.golden.name]["batch"]["rows"]
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
            logits = model(**inputs, return_dict=True).logits
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, _fn) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return SUBCOMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
