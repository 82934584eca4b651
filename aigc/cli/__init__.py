"""The ``aigc`` command: one group, its commands added from one module per audience.

- :mod:`aigc.cli.develop`: write, check and evaluate an agent on this machine.
- :mod:`aigc.cli.training`: train agents and build the platform's baselines.
- :mod:`aigc.cli.operate`: run and administer a platform server.
- :mod:`aigc.cli.remote`: a participant's or organizer's work on a platform server, through
  the REST client of :mod:`aigc.cli.client`.
- :mod:`aigc.cli.teams`: a participant's team on a platform server.
- :mod:`aigc.cli.organize`: an organizer's work on everyone's submissions and on phases.

:mod:`aigc.cli.console` holds what they all print with. Each command imports the heavy
parts (torch, Flask, SQLAlchemy, Docker) when it runs, so ``aigc --help`` stays quick.
"""

from __future__ import annotations

import click

from aigc import __version__
from aigc.cli import develop, operate, organize, remote, teams, training


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aigc")
def main() -> None:
    """AIGC, the AI Gym Challenge: write, check and evaluate reinforcement-learning agents."""


main.add_command(develop.init_agent)
main.add_command(develop.check)
main.add_command(develop.evaluate)
main.add_command(develop.sandbox)

main.add_command(training.train)
main.add_command(training.baselines)

main.add_command(operate.serve)
main.add_command(operate.worker)
main.add_command(operate.admin)

main.add_command(remote.login)
main.add_command(remote.logout)
main.add_command(remote.list_challenges)
main.add_command(remote.challenge)
main.add_command(remote.submit)
main.add_command(remote.status)
main.add_command(remote.logs)
main.add_command(remote.cancel)
main.add_command(remote.leaderboard)
main.add_command(teams.team)

main.add_command(organize.organize)
