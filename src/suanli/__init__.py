"""suanli (算力): pool GPU data centers into one public AI compute service.

Layers (see README): ``domain`` (values), ``metering``/``scheduling``/``market`` (the pure core),
and the shells around them (``sim``, ``traces``, ``store``, ``services``, ``api``, ``control``,
``agent``, ``cli``, ``web``).
"""

__version__ = "0.1.0"
