"""The Airflow plugin: the residence-compliance pages in the Airflow UI.

Mounts :func:`zairyu_sync.ui.create_app` under ``/zairyu-sync`` on the API server and adds a
"Residence compliance" entry to the Browse menu that shows it embedded. The app resolves the run
directory and the ``warehouse`` connection per request, so loading the plugin does no I/O. Every
route requires an authenticated Airflow user.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends

from zairyu_sync.ui import create_app

#: Where the app is mounted on the Airflow API server.
URL_PREFIX = "/zairyu-sync"

#: Plugin apps are not behind Airflow's authentication by default: the pages show employee ids
#: and findings, so every route requires a signed-in Airflow user (JWT cookie or bearer token).
app = create_app(dependencies=[Depends(requires_authenticated())])


class ZairyuSyncPlugin(AirflowPlugin):
    """Serves run reports and the open-discrepancy queue inside the Airflow UI."""

    name = "zairyu_sync"
    fastapi_apps: list[Any] = [  # noqa: RUF012 - AirflowPlugin declares these as class lists
        {"app": app, "url_prefix": URL_PREFIX, "name": "zairyu-sync reports"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Residence compliance",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "zairyu-sync",
            "category": "browse",
        }
    ]
