"""The web pages: HTML for participants and organizers, beside the JSON API.

One blueprint per feature (``*_pages.py``, ``leaderboard_page.py``); :func:`register`
attaches them with the sign-in (:mod:`.signin`), CSRF check (:mod:`.csrf`), security
headers (:mod:`.responses`) and template helpers (:mod:`.formatting`) they share.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from aigc.platform import ids
from aigc.platform.web import (
    account_pages,
    challenge_pages,
    csrf,
    formatting,
    guards,
    leaderboard_page,
    organizer_pages,
    responses,
    signin,
    submission_pages,
    team_pages,
)


def register(app: Flask) -> None:
    """Attach the pages, their session handling and security headers to the app."""
    ids.init_app(app)
    assets = Blueprint(
        "web",
        __name__,
        static_folder="static",
        static_url_path="/assets",
        template_folder="templates",
    )
    blueprints = [
        assets,
        challenge_pages.bp,
        account_pages.bp,
        submission_pages.bp,
        leaderboard_page.bp,
        organizer_pages.bp,
        team_pages.bp,
    ]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.before_request(csrf.checker({blueprint.name for blueprint in blueprints}))
    app.after_request(responses.security_headers)
    app.context_processor(signin.template_globals)
    app.add_template_filter(formatting.when, "when")
    app.add_template_filter(formatting.number, "number")
    app.add_template_global(guards.local_path, "local_path")
    app.add_template_global(csrf.csrf_token, "csrf_token")
    app.add_template_global(challenge_pages.phase_dates, "phase_dates")
