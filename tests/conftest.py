"""Shared pytest configuration: the `gpu` and `slow` markers, and deterministic CPU threading."""

import pytest
import torch

#----------------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line('markers', 'gpu: needs a CUDA device; skipped without one')
    config.addinivalue_line('markers', 'slow: takes more than a few seconds on 2 CPU cores')

def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)

#----------------------------------------------------------------------------
