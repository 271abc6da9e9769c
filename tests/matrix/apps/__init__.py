"""The framework apps of the matrix: each module exposes ``app`` serving the probes."""
