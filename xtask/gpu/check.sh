#!/bin/bash
# ft's wgpu checks on a lent GPU machine, from binaries built elsewhere by xtask/gpu/prepare.sh (no cargo
# there): the adapter, the PyTorch step-parity test on wgpu, `ft train --device wgpu`, and `ft bench step` of
# the MiniLM-L6 shape on the GPU and on the machine's CPU cores.
set -u
cd "$(dirname "$0")/.."
R=$PWD
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
ldconfig -p | grep -q libvulkan || echo "no libvulkan after unpacking"
nvidia-smi -L; nproc; echo "repo at $R"
# Test binaries carry compile-time paths under /work/main.
if [ "$R" != /work/main ]; then mkdir -p /work; [ -e /work/main ] || ln -s "$R" /work/main; fi
mkdir -p target/debug
for f in .gpu/*.xz; do xz -dc "$f" > "${f%.xz}"; chmod +x "${f%.xz}"; done
cp .gpu/ft target/debug/ft
export XDG_RUNTIME_DIR=$(mktemp -d) FT=$R/target/debug/ft
echo "== inspect --device auto"
timeout 120 $FT inspect fixtures/tiny --device auto 2>&1 | grep -iE "device|adapter|error"
# Seen on an H200 machine (2026-12-04): without VK_DRIVER_FILES, `ft inspect --device wgpu` died with
# SIGSEGV (where, not investigated: the device time was spent on the checks); naming NVIDIA's ICD fixed it.
$FT inspect fixtures/tiny --device wgpu >/dev/null 2>&1; rc=$?
if [ $rc != 0 ] && [ -f $icd ]; then
  echo "== --device wgpu exited $rc; retry with VK_DRIVER_FILES=$icd"; export VK_DRIVER_FILES=$icd
  timeout 120 $FT inspect fixtures/tiny --device auto 2>&1 | grep -iE "device|adapter|error"
fi
echo "== ft-train parity on wgpu"
timeout 240 .gpu/train_parity full_fine_tuning_matches_pytorch_step_for_step_on_wgpu --nocapture 2>&1 | tail -12
echo "== ft train --device wgpu (CLI test)"
timeout 200 .gpu/cli_train train_on_wgpu_writes_a_model_that_learned --nocapture 2>&1 | tail -6
echo "== bench step, MiniLM-L6 shape"
for dev in wgpu cpu; do
  for m in "full 32 128" "inference 32 128" "full 128 128" "inference 256 128"; do
    set -- $m
    timeout 150 $FT bench step --shape minilm --mode $1 --batch $2 --seq $3 --warmup 2 --iters 5 --device $dev 2>&1 | tail -1
  done
done
