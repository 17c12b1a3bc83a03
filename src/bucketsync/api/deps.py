"""The one dependency every route takes: the app's ``Service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bucketsync.api.models import Problem
from bucketsync.api.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for the refusals a route can answer, all shaped as ``Problem``."""
    return {code: {"model": Problem} for code in codes}
