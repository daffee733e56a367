"""The benchmark suite behind `make bench`: figures, not timed tests.

`python -m bench.run` drives the real handlers on moto (in this process) with a seeded
workload, records every request they send to AWS through botocore's event hooks, prices it
the way AWS bills it, and writes `bench/results.json`; `bench.render` turns that into
`docs/performance.md`.
"""
