"""The pipeline's steps, one module each, in the order `daemon.pipeline.steps()` runs them."""
