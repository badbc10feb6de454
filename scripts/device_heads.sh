#!/usr/bin/env bash
# Train colour heads on a lent GPU machine, from the repository root there, in one call.
#
# Here, once (the pack must travel with the working tree, which may hold 64 MiB in all):
#   .venv/bin/python -m colorme_desktop.training.semantic_online pack --out .gpu/photos.npz --side 288 --quality 72
# There (carry [".gpu"]; the arguments go to `semantic_online train`):
#   scripts/device_heads.sh --minutes 5 --variants drop-slow,drop-reg-decay-slow --seeds 3 --photo-share 0.75
# Back here, untar what came back into a run folder and `semantic_online unbundle` it (the
# model card's session 11 shows the rest).  Only a few files come back from such a machine,
# so the run's bundles travel in at most five tar files beside its logs.
set -euo pipefail
out=${OUT:?this runs on the device machine, where OUT names the folder that comes back}
run=/tmp/heads-run
rm -rf "$run"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
# A run that fails part way still sends back what it kept: the states scored so far.
status=0
python -m colorme_desktop.training.semantic_online train --pack .gpu/photos.npz --out "$run" "$@" \
    2>&1 | tee "$out/train.log" || status=$?
cp "$run"/log.jsonl "$run"/variants.json "$out/" 2>/dev/null || true
cd "$run" 2>/dev/null || exit "$((status ? status : 1))"
shopt -s nullglob
bundles=(bundle-*.safetensors)
per=$(( (${#bundles[@]} + 4) / 5 ))
for ((i = 0; i < ${#bundles[@]}; i += per)); do
    tar -cf "$out/bundles-$((i / per)).tar" "${bundles[@]:i:per}"
done
exit "$status"
