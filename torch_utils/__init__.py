"""torch_utils: PyTorch-side infrastructure (persistent pickles and their safe loader, misc helpers, training
statistics, process groups) and the custom ops in torch_utils.ops."""
