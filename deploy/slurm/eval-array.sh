#!/usr/bin/env bash
# A sharded `lantern eval` on a Slurm cluster: an array of N tasks, task I evaluating shard I/N
# into $OUT/shards/I, then a merge job that starts when every task has succeeded
# (--dependency=afterok) and writes the report to $OUT/report.
#
# Submit from a login node, with the dataset and $OUT on storage every node sees:
#
#   DATA=/shared/CUB_200_2011 FORMAT=cub OUT=/shared/eval/cub-resnet50 SHARDS=16 \
#   EVAL_ARGS="--model /shared/models/resnet50.pth --methods gradcam,scorecam" \
#     deploy/slurm/eval-array.sh
#
# Environment (the defaults in brackets):
#   DATA, FORMAT, OUT   dataset folder, its format, output folder (required)
#   SHARDS              number of shards N [8]
#   EVAL_ARGS           further `lantern eval` flags, the same for every shard (split on spaces)
#   LANTERN             how to run lantern [lantern]; e.g. "apptainer exec lantern.sif lantern"
#                       (an image built from the repository's Dockerfile)
#   SBATCH_ARGS         further sbatch flags for both jobs, e.g. "--partition=gpu --gres=gpu:1"
#   TASK_TIME, TASK_CPUS, TASK_MEM  per-shard limits [04:00:00, 4, 8G]
#
# A task that fails or is preempted leaves its shard folder resumable: resubmit the same array
# (or `sbatch --array=I ...` for one shard) and it continues where it stopped; the merge job of
# the failed array never starts (afterok), so submit the script again once the shards are done.
#
# Inside the jobs the script runs itself with a role: `eval-array.sh task` and
# `eval-array.sh merge` (Slurm passes the environment on by default).
set -euo pipefail

role="${1:-submit}"
: "${DATA:?set DATA to the dataset folder}"
: "${FORMAT:?set FORMAT to the dataset format (folder, cub, voc, coco, synth)}"
: "${OUT:?set OUT to the output folder (on storage every node sees)}"
SHARDS="${SHARDS:-8}"
LANTERN="${LANTERN:-lantern}"
read -r -a eval_args <<<"${EVAL_ARGS:-}"
read -r -a lantern_cmd <<<"$LANTERN"
read -r -a sbatch_args <<<"${SBATCH_ARGS:-}"

case "$role" in
  submit)
    if ! [[ "$SHARDS" =~ ^[1-9][0-9]*$ ]]; then
      echo "SHARDS must be a whole number of at least 1, got '$SHARDS'" >&2
      exit 2
    fi
    mkdir -p "$OUT/logs"
    script="$(realpath "$0")"
    array_id=$(sbatch --parsable \
      --job-name=lantern-eval \
      --array="0-$((SHARDS - 1))" \
      --time="${TASK_TIME:-04:00:00}" \
      --cpus-per-task="${TASK_CPUS:-4}" \
      --mem="${TASK_MEM:-8G}" \
      --output="$OUT/logs/shard-%a.log" \
      ${sbatch_args[@]+"${sbatch_args[@]}"} \
      "$script" task)
    array_id="${array_id%%;*}"
    merge_id=$(sbatch --parsable \
      --job-name=lantern-merge \
      --dependency="afterok:$array_id" \
      --time=00:30:00 \
      --cpus-per-task=1 \
      --mem=4G \
      --output="$OUT/logs/merge.log" \
      ${sbatch_args[@]+"${sbatch_args[@]}"} \
      "$script" merge)
    echo "submitted array job $array_id ($SHARDS shards) and merge job ${merge_id%%;*}; report: $OUT/report"
    ;;
  task)
    index="${SLURM_ARRAY_TASK_ID:?the task role runs inside a Slurm array job}"
    export RAYON_NUM_THREADS="${SLURM_CPUS_PER_TASK:-${RAYON_NUM_THREADS:-1}}"
    exec "${lantern_cmd[@]}" eval --data "$DATA" --format "$FORMAT" \
      --shard "$index/$SHARDS" --out "$OUT/shards/$index" ${eval_args[@]+"${eval_args[@]}"}
    ;;
  merge)
    shard_dirs=()
    for ((i = 0; i < SHARDS; i++)); do
      shard_dirs+=("$OUT/shards/$i")
    done
    exec "${lantern_cmd[@]}" eval merge "$OUT/report" "${shard_dirs[@]}"
    ;;
  *)
    echo "usage: $0 [submit|task|merge] (with DATA, FORMAT, OUT and SHARDS in the environment)" >&2
    exit 2
    ;;
esac
