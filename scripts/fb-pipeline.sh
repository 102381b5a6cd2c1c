#!/usr/bin/env bash
# fb-pipeline.sh — the same job as fb-render, launched by hand from a script:
# one fb-broker, K fb-producer and one fb-encoder, each a separate program
# that meets the others through the named segment.  Use it as a template
# when workers must be started by something else (a job scheduler, a
# container per worker, ...).
#
#   scripts/fb-pipeline.sh NAME WORKERS SOURCE SINK OUTPUT [broker options...]
#   e.g. scripts/fb-pipeline.sh /myrender 3 raw:in.raw raw out.raw --size 320x240 --frames 50
#
# Exit status: the encoder's (0 = output complete).
set -u
[ $# -ge 5 ] || { echo "usage: $0 NAME WORKERS SOURCE SINK OUTPUT [broker options...]" >&2; exit 2; }
name=$1 workers=$2 source=$3 sink=$4 output=$5
shift 5
# "tour" and "/tour" are one segment, as for the programs; this script opens
# /dev/shm$name itself, so it needs the canonical form.
case $name in /*) ;; *) name=/$name ;; esac
case $name in /*/* | / | /. | /..) echo "fb-pipeline: invalid segment name '$name'" >&2; exit 2 ;; esac
bin=$(cd "$(dirname "$0")/../bin" && pwd)
pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null; wait 2> /dev/null; }
trap cleanup EXIT INT TERM

# 1. The broker, and wait for "ready" on a pipe: the segment then exists.
exec 3< <(exec "$bin/fb-broker" --name "$name" --ready-fd 1 "$@")
broker=$!
read -r -t 10 line <&3 || { echo "fb-pipeline: broker did not start" >&2; exit 1; }
# 2. Hold the segment open and hand the descriptor to the workers: a worker
#    that starts after a short render already finished (and the broker
#    unlinked the name) then still attaches, finds nothing to do and exits 0.
#    Attaching by --name alone works too, but has that race.
exec 4<> "/dev/shm$name"
for _ in $(seq "$workers"); do
	"$bin/fb-producer" --name "$name" --fd 4 --source "$source" &
	pids+=($!)
done
# 3. The encoder drains in order; its exit status is the render's.
"$bin/fb-encoder" --name "$name" --fd 4 --sink "$sink" -o "$output"
status=$?
exec 4<&-
for p in "${pids[@]}"; do wait "$p" || echo "fb-pipeline: producer $p failed" >&2; done
pids=()
wait $broker 2> /dev/null
exit $status
