"""A module named like the runtime's numpy: whoever imports it is told so."""

raise ImportError("SHADOWED: the package's numpy.py was imported")
