"""The benchmarks of supportd (`bench/run.py`, issue 5) and the soak through Postfix
(`bench/soak.py`), with the harness they share with the tests (`bench/harness/`).

A package so that the tests can import the harness (`bench.harness`) and the
commands their parts; it imports nothing itself.
"""
