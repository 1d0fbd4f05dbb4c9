"""The Prometheus collector: DCGM, kube-state-metrics and Karpenter series into DuckDB.

`collector` is the entry point; the other modules are its parts (docs/collect-prometheus.md).
"""

from costlab.collect.prometheus.collector import *  # noqa: F403
from costlab.collect.prometheus.collector import __all__  # noqa: F401
