#!/usr/bin/env bash
# Every run behind docs/benchmarks/pipeline.md, in order (about 40 minutes on
# 2 cores). Results are appended to benchmarks/results/pipeline.jsonl; then
# `uv run python -m benchmarks.pipeline report` renders the page.
set -euo pipefail
cd "$(dirname "$0")/.."
B="uv run python -m benchmarks.pipeline"
# The first rows were measured before FEEDPIPE_PARSER_BATCH_SIZE existed (parser batch =
# FEEDPIPE_BATCH_SIZE = 200); OLD reproduces them now that the default is 10.
OLD="--env FEEDPIPE_PARSER_BATCH_SIZE=200"
SUMMARY="--feeds 100 --entries 50 --articles 12000 --interval 2"
FULL="--feeds 100 --entries 10 --articles 2000 --interval 2"
$B baseline --mode summary --runs 3 --feeds 100 --entries 50 --articles 3000 --label baseline
$B baseline --mode full --runs 3 --feeds 100 --entries 10 --articles 600 --label baseline
$B feedpipe --mode summary $SUMMARY --runs 3 $OLD --label sqlite-1
$B feedpipe --mode full $FULL --runs 3 $OLD --label sqlite-1
$B feedpipe --mode summary $SUMMARY --runs 3 --scale 2 $OLD --label sqlite-2
$B feedpipe --mode full $FULL --runs 3 --scale 2 $OLD --label sqlite-2
$B feedpipe --mode summary $SUMMARY --runs 3 --index postgres $OLD --label postgres-1
$B feedpipe --mode full $FULL --runs 1 --index postgres $OLD --label postgres-1
$B feedpipe --mode summary $SUMMARY --runs 3 --rate-from sqlite-1 $OLD --label latency
$B feedpipe --mode full $FULL --runs 3 --rate-from sqlite-1 $OLD --label latency
$B feedpipe --mode summary $SUMMARY --runs 1 --profile parser $OLD --label profile
$B feedpipe --mode full $FULL --runs 1 --profile parser $OLD --label profile
# Tuning A/B: the parser reads 10 feed documents per batch instead of 200
# (FEEDPIPE_PARSER_BATCH_SIZE, added for this), so later stages overlap with it.
PB="--env FEEDPIPE_PARSER_BATCH_SIZE=10"
$B feedpipe --mode summary $SUMMARY --runs 3 $PB --label sqlite-1-pb10
$B feedpipe --mode full $FULL --runs 2 $PB --label sqlite-1-pb10
$B feedpipe --mode summary $SUMMARY --runs 2 --scale 2 $PB --label sqlite-2-pb10
$B feedpipe --mode summary $SUMMARY --runs 2 --rate-from sqlite-1-pb10 $PB --label latency-pb10
$B feedpipe --mode full $FULL --runs 1 --rate-from sqlite-1-pb10 $PB --label latency-pb10
# Half of the whole-run rate of sqlite-1-pb10 (707/s): the 10-90 % figure overstates what
# this busy machine sustains, and the run above at half of it was saturated.
$B feedpipe --mode summary $SUMMARY --runs 1 --rate 354 --duration 40 $PB --label latency-pb10-whole
