"""Run the ``aigc`` command as ``python -m aigc``."""

from aigc.cli import main

main()
