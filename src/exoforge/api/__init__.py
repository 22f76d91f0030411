"""The REST API (FastAPI, under ``/api/v1``) and the application that also serves the web pages.

``create_app(Settings(...))`` builds the application; ``exoforge serve`` runs it under uvicorn.
"""

from exoforge.api.app import create_app
from exoforge.api.settings import Settings

__all__ = ["Settings", "create_app"]
