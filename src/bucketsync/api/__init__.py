"""The HTTP sync service (FastAPI): ``create_app(settings)``; ``bucketsync serve`` runs it.

Only this package and ``bucketsync.cli`` import FastAPI, Starlette or uvicorn, so the Lambda
artefact carries none of them.
"""

from __future__ import annotations

from bucketsync.api.app import create_app
from bucketsync.api.service import Service, ServiceParts, service_parts

__all__ = ["Service", "ServiceParts", "create_app", "service_parts"]
