"""The local web app of ``az-gym serve``: play, analyse and watch training in the browser.

Modules: :mod:`~az_gym.web.boards` (a position as the page draws it), :mod:`~az_gym.web.players`
(the games and agents offered), :mod:`~az_gym.web.sessions` (one game per tab, bounded),
:mod:`~az_gym.web.overlay` (the analysis overlay), :mod:`~az_gym.web.runs` (a run's curves),
:mod:`~az_gym.web.app` (the FastAPI app) and :mod:`~az_gym.web.serve` (the command).
The page itself is plain HTML, CSS and JavaScript in ``static/``: no build step, nothing
fetched from the internet. FastAPI and uvicorn come with the ``web`` extra
(``pip install 'az-gym[web]'``); only ``app`` and ``serve`` need them.
"""
