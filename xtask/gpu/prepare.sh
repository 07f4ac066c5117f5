#!/bin/bash
# Prepares ft's GPU check for a lent GPU machine that has no cargo and no network: builds the tests with
# `--features wgpu` here (the dev profile: dependencies optimised, as CI), then strips and compresses the
# three binaries the check runs into .gpu/ (git-ignored; ≈ 40 MB), with check.sh beside them. Then run
# `bash .gpu/check.sh` there with `.gpu` and `.gl` (the Vulkan loader's packages) carried along.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .gpu target
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)} \
  cargo test --workspace --features wgpu --locked --no-run --message-format=json > target/gpu-binaries.json
python3 - <<'PY'
import json, shutil
want = {("ft-train", "parity"): ".gpu/train_parity", ("ft-cli", "train"): ".gpu/cli_train"}
for line in open("target/gpu-binaries.json"):
    m = json.loads(line) if line.startswith("{") else {}
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        key = (m["package_id"].split("/crates/")[-1].split("#")[0], m["target"]["name"])
        if key in want:
            shutil.copy(m["executable"], want.pop(key))
assert not want, f"not built: {want}"
PY
cp target/debug/ft .gpu/ft
cp xtask/gpu/check.sh .gpu/check.sh
for b in ft train_parity cli_train; do strip .gpu/$b; xz -9 -T0 -f .gpu/$b; done
ls -la .gpu
