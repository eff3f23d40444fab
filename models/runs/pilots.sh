#!/bin/sh
# Issue 21: runs the pilots (pilot_a.sh, pilot_b.sh, ...) interleaved, CHUNK epochs of 500 iterations
# each in turn, so that whenever the driver stops, the runs have had the same number of iterations
# (or differ by the one turn under way) and compare paired.
#
#   sh models/runs/pilots.sh [EPOCHS [NAME...]]       (default: 10 a b, i.e. 5,000 iterations each)
#
# Each pilot's script runs once (it resumes its run from its last checkpoint) and stays in memory:
# a turn continues it (SIGCONT) until its BackupAndRestore checkpoint holds the turn's epochs, then
# pauses it (SIGSTOP), a few steps into its next epoch. Restarting each turn instead would repeat
# TensorFlow's start-up and the 1,917 rescaled copies, minutes each on this shared machine.
# Wall times of the turns go to this driver's log (Keras' own epoch times include the pauses).
#
# From the repository root with the venv's abpn-tool on the PATH (and ABPN_DATASETS if the datasets
# are not in ../shared/datasets). Run it again to continue. To stop after the current round (the
# runs then have equal iterations): touch models/runs/pilots.stop. To stop now: kill the driver's
# pid. Either way the training processes end and lose only their unfinished epoch; the last
# checkpoint is kept. PILOT_CHUNK: epochs per turn (default 1).
set -u
cd "$(dirname "$0")/../.." || exit 1
UNTIL=${1:-10}
[ $# -gt 0 ] && shift
NAMES=${*:-a b}
CHUNK=${PILOT_CHUNK:-1}
RUNS=models/runs
STOP=$RUNS/pilots.stop

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }

command -v abpn-tool >/dev/null || { log "abpn-tool is not on the PATH: put the venv's bin folder first"; exit 2; }
D=${ABPN_DATASETS:-../shared/datasets}
[ -d "$D/T91" ] || { log "no datasets in $D: set ABPN_DATASETS to the folder holding T91, BSD200, ..."; exit 2; }

# Completed epochs of a run: the number of its BackupAndRestore checkpoint, which is saved once per
# epoch (tf.train.CheckpointManager counts the saves, and the count is restored on resume).
epochs_done() {
    state=$RUNS/pilot_$1/backup/chief/checkpoint
    n=$( [ -f "$state" ] && sed -n 's/^model_checkpoint_path: "ckpt-\([0-9]*\)"$/\1/p' "$state")
    echo "${n:-0}"
}

# The pid of each pilot's training process, in variables pid_a, pid_b, ...
pid_of() { eval "echo \${pid_$1:-}"; }

stop_all() {
    for name in $NAMES; do
        pid=$(pid_of "$name")
        [ -n "$pid" ] || continue
        # A paused process only acts on SIGTERM once continued.
        kill -TERM "$pid" 2>/dev/null; kill -CONT "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        log "pilot $name stopped at epoch $(epochs_done "$name") (its unfinished epoch is dropped on resume)"
        eval "pid_$name="
    done
}
trap 'stop_all; exit 143' TERM INT HUP

# Runs pilot $1 until its checkpoint holds $2 epochs, then pauses it.
turn() {
    name=$1 target=$2
    from=$(epochs_done "$name")
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then
        kill -CONT "$pid"
        how=continued
    else
        sh "$RUNS/pilot_$name.sh" >>"$RUNS/pilot_$name.log" 2>&1 &
        pid=$!
        eval "pid_$name=$pid"
        how="started (time includes start-up)"
    fi
    began=$(date +%s)
    while :; do
        n=$(epochs_done "$name")
        if [ "$n" -ge "$target" ]; then
            # The manager writes the state file, then deletes the previous checkpoint: let it finish.
            tries=0
            while [ -e "$RUNS/pilot_$name/backup/chief/ckpt-$((n - 1)).index" ] && [ $tries -lt 60 ]; do
                sleep 1; tries=$((tries + 1))
            done
            kill -STOP "$pid"
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            eval "pid_$name="
            log "pilot $name ended at epoch $n before reaching $target: see $RUNS/pilot_$name.log"
            stop_all
            exit 1
        fi
        sleep 5
    done
    seconds=$(( $(date +%s) - began ))
    per_epoch=$(sed -n 's/^ *"steps_per_epoch": \([0-9]*\).*/\1/p' "$RUNS/pilot_$name/run.json")
    iterations=$(( (n - from) * per_epoch ))
    log "pilot $name: epochs $from -> $n in $seconds s, $iterations iterations, $how"
}

while :; do
    low=$UNTIL
    for name in $NAMES; do
        n=$(epochs_done "$name")
        [ "$n" -lt "$low" ] && low=$n
    done
    if [ "$low" -ge "$UNTIL" ]; then
        stop_all
        log "all pilots ($NAMES) have $UNTIL epochs"
        exit 0
    fi
    if [ -e "$STOP" ]; then
        rm -f "$STOP"
        stop_all
        log "stop file found: stopped with every pilot at epoch $low or more"
        exit 0
    fi
    target=$((low + CHUNK))
    [ "$target" -gt "$UNTIL" ] && target=$UNTIL
    for name in $NAMES; do
        [ "$(epochs_done "$name")" -lt "$target" ] && turn "$name" "$target"
    done
done
