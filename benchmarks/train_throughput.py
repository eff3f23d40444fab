"""Training throughput: the real input pipeline against the same batches already in memory.

Both feed the same ABPN through `Model.fit` (batch 16, 64x64 LR patches); blocks of steps alternate
between the two within one run so the machine's noise hits both alike. Target (issue 2): the
pipeline costs under 5% of the step rate.

    python benchmarks/train_throughput.py [--data DIR ...] [--steps 40] [--blocks 10]
"""
import argparse
import statistics
import time

import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from abpn.model.data import make_dataset, prepare_data
from abpn.model.architecture import build_abpn
from abpn.model.schedules import TRAIN_PRESETS


def steps_per_second(model, dataset, steps):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="*", default=None, help="HR folders (default: the embedded photos)")
    parser.add_argument("--steps", type=int, default=40, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=10, help="timed blocks per feed, alternating")
    args = parser.parse_args()

    schedule = TRAIN_PRESETS["paper"]
    split = prepare_data(args.data or None, progress=False)
    pipeline = make_dataset(split.train, patch=schedule.patch, batch=schedule.batch, seed=0)
    in_memory = list(pipeline.take(args.steps))
    memory = tf.data.Dataset.from_tensor_slices(
        (tf.stack([lr for lr, _ in in_memory]), tf.stack([hr for _, hr in in_memory]))
    ).cache().repeat()

    model = build_abpn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_absolute_error")
    feeds = {"pipeline": pipeline, "in memory": memory}
    for dataset in feeds.values():  # warm-up: tracing, allocation, tf.data autotuning
        steps_per_second(model, dataset, 10)
    rates = {name: [] for name in feeds}
    for block in range(args.blocks):
        for name, dataset in (feeds.items() if block % 2 == 0 else reversed(feeds.items())):
            rates[name].append(steps_per_second(model, dataset, args.steps))

    print(f"data: {split.description}")
    print(f"batch {schedule.batch} x {schedule.patch}x{schedule.patch} LR patches, {args.blocks} alternating "
          f"blocks of {args.steps} steps per feed, {tf.config.threading.get_intra_op_parallelism_threads() or 'all'} "
          "intra-op threads")
    for name, values in rates.items():
        print(f"{name:>10}: {statistics.median(values):.3f} steps/s (blocks: {', '.join(f'{v:.3f}' for v in values)})")
    cost = 1 - statistics.median(rates["pipeline"]) / statistics.median(rates["in memory"])
    print(f"pipeline cost: {cost * 100:+.1f}% of the in-memory step rate (target: under 5%) -> "
          f"{'met' if cost < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
