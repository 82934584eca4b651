"""The agent programs of the baselines' packages.

Each module here is copied, byte for byte, into the packages that training writes, as their
``agent.py``. So each stands alone in the agent sandbox: it imports only the standard
library, numpy, torch, gymnasium and files of its own package, and reads everything that
differs from one package to another (layer widths, sampling temperature, weights) from the
package's files, never from text pasted into its source.
"""
