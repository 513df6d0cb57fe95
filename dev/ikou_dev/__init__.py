"""Ikou's development tools (dev/): the embedded stack, the local S3 server, the synthetic city,
the benchmarks and the 名寄せ model training. Installed by ``make venv`` beside the runtime
package; never on the worker image, and never imported by the runtime (``.importlinter``)."""
