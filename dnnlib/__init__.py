"""dnnlib: small, framework-free helpers shared by every tool (EasyDict, URL cache, logging, construct-by-name)."""

from .util import EasyDict, make_cache_dir_path
