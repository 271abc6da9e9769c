"""Benchmarks of fast-channels against its peers and a raw redis-py ceiling.

Run ``bench/run`` (``--quick`` for a smoke run); see ``bench/README.md``.
"""
