#!/usr/bin/env bash
# Processes launched separately by a script meet through the named segment
# and produce the same bytes as the input (scripts/fb-pipeline.sh).
. "$(dirname "$0")/lib.sh"

F=$(frame_bytes rgb24 200 100)
gen_bytes $((F * 40)) scripted > "$TMP/src.raw"
"$ROOT/scripts/fb-pipeline.sh" /$TID-s 3 raw:"$TMP/src.raw" raw "$TMP/out.raw" \
	--size 200x100 --pix-fmt rgb24 --frames 40 --slots 2 2> "$TMP/err"
rc=$?
check "scripted pipeline exits 0, stderr empty ($(cat "$TMP/err"))" '[ $rc -eq 0 ] && [ ! -s "$TMP/err" ]' 
check "scripted pipeline output is byte-identical" cmp -s "$TMP/out.raw" "$TMP/src.raw"
check_clean "scripted pipeline"
finish
