"""Provenance of a run: fingerprints, comparisons, environment, resolved config, timings.

``fingerprint`` hashes every stage's outputs, ``compare`` says which stage of two runs first
differs, ``environment`` records CPU, kernels, GPU and packages, ``runinfo`` the resolved
configuration, ``timings`` Snakemake's per-rule benchmarks. Reads outputs; changes none.
"""
