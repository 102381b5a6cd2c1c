#!/usr/bin/env bash
# Processes launched separately by a script meet through the named segment
# and produce the same bytes as the input (scripts/fb-pipeline.sh).
. "$(dirname "$0")/../lib.sh"

F=$(frame_bytes rgb24 200 100)
gen_bytes $((F * 40)) scripted > "$TMP/src.raw"
"$ROOT/scripts/fb-pipeline.sh" /$TID-s 3 raw:"$TMP/src.raw" raw "$TMP/out.raw" \
	--size 200x100 --pix-fmt rgb24 --frames 40 --slots 2 2> "$TMP/err"
rc=$?
check "scripted pipeline exits 0, stderr empty ($(cat "$TMP/err"))" '[ $rc -eq 0 ] && [ ! -s "$TMP/err" ]' 
check "scripted pipeline output is byte-identical" cmp -s "$TMP/out.raw" "$TMP/src.raw"
# The name without its '/', as the programs take it (the script once
# opened "/dev/shm$name": a stray /dev/shmNAME file, and a hang).
rm -f "$TMP/out.raw"
timeout 60 "$ROOT/scripts/fb-pipeline.sh" $TID-bare 2 raw:"$TMP/src.raw" raw "$TMP/out.raw" \
	--size 200x100 --pix-fmt rgb24 --frames 40 2> "$TMP/err"
rc=$?
check "fb-pipeline.sh $TID-bare (no '/'): exit 0, output byte-identical, no /dev/shm$TID-bare ($(head -2 "$TMP/err" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/out.raw" "$TMP/src.raw" && [ ! -e "/dev/shm$TID-bare" ]'
rm -f "/dev/shm$TID-bare"
check_clean "scripted pipeline"
finish
