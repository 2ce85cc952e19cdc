"""Spike detection benchmark: spikes v2 against v1 and S-H-ESD on injected spikes.

python -m benchmarks.spikes            # full run (a few minutes on one core)
python -m benchmarks.spikes --quick    # fewer trials
"""
