"""Web pages for people: sign in with an API key, then the hub's live screening queue."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from scoring.api.deps import CurrentUser, StoreDep, check_hub

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
def login(request: Request, store: StoreDep, token: str = Form(...)) -> object:
    found = store.principal(token.strip())
    if found is None:
        return templates.TemplateResponse(request, "login.html", {"error": "Unknown or revoked key."},
                                          status_code=status.HTTP_401_UNAUTHORIZED)
    target = f"/hubs/{found['hub_id']}/queue" if found["hub_id"] else "/hubs"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie("pg_token", token.strip(), httponly=True, samesite="strict")
    return response


@router.get("/hubs/{hub_id}/queue", response_class=HTMLResponse)
def queue_page(hub_id: str, request: Request, user: CurrentUser) -> HTMLResponse:
    check_hub(user, hub_id)
    return templates.TemplateResponse(request, "queue.html", {"hub_id": hub_id, "user": user})


@router.get("/hubs", response_class=HTMLResponse)
def hubs_page(request: Request, user: CurrentUser) -> HTMLResponse:
    if user.hub_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "screeners see their own hub's queue")
    return templates.TemplateResponse(request, "hubs.html", {"user": user})
