"""Tests marked `slow` (long end-to-end runs on real data) run only with `--slow`, as `make test-slow` does."""
import pytest

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', help='also run the tests marked slow (e.g. FER2013 end to end)')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: a long end-to-end run on real data; runs with --slow (make test-slow)')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow: runs with --slow (make test-slow)')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)
