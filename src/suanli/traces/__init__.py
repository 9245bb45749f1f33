"""Public trace readers -> job streams, registered by name (``msr-itp``, ``openb``, ``synthetic``).

Use ``read_trace(name, TraceOptions(...))``; ``reader_names()`` lists what is registered.
"""

from suanli.traces.base import (
    Trace,
    TraceOptions,
    TraceReader,
    get_reader,
    read_trace,
    reader_names,
    register_reader,
)
from suanli.traces.msr_itp import MsrItpReader
from suanli.traces.msr_shaped import SyntheticReader
from suanli.traces.openb import OpenbReader

register_reader("msr-itp", MsrItpReader)
register_reader("openb", OpenbReader)
register_reader("synthetic", SyntheticReader)

__all__ = ["Trace", "TraceOptions", "TraceReader", "get_reader", "read_trace", "reader_names", "register_reader"]
