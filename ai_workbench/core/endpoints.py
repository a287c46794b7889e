"""Where an endpoint is, from its URL alone (no DNS): this machine, a private network, a route.

Stdlib only, so settings (which refuses project files that redirect requests) and the model
layer (profiles, offline checks) share one answer without importing each other.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = [
    "LOCAL_HOSTNAMES",
    "LOCAL_ROUTES",
    "LOCAL_SUFFIXES",
    "is_local_url",
    "is_loopback_url",
    "route_of",
]

LOCAL_ROUTES = {"ollama", "ollama_chat", "lm_studio", "hosted_vllm", "llamafile"}
LOCAL_HOSTNAMES = {"localhost", "localhost.localdomain", "host.docker.internal"}
LOCAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def route_of(model: str) -> str:
    return model.split("/", 1)[0].lower() if "/" in model else "openai"


def is_local_url(url: str) -> bool:
    """True for loopback, private, link-local addresses and local host names (no DNS)."""
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    host = host.lower().rstrip(".")
    if host in LOCAL_HOSTNAMES or host.endswith(LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def is_loopback_url(url: str) -> bool:
    """True only for this machine: localhost names and loopback addresses (no DNS)."""
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    host = host.lower().rstrip(".")
    if host in {"localhost", "localhost.localdomain"} or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
