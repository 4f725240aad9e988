"""The benchmark's measurements, one module each, named as on bench/run.py's command
line. Each has `measure(sizes, seed, pg)`, run by bench/run.py, and the in-process
ones a `child_*` run in a fresh interpreter (bench/harness/children.py)."""
