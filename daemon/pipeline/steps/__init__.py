"""The pipeline's steps, one module each, in the order `daemon.pipeline.order.STEPS` names them."""
