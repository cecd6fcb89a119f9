"""Connecting to an Argilla 2.x server (the local review server, Docker, an HF Space) and getting
the review dataset, with one-line errors for the usual mistakes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import BaseModel, Field, SecretStr

from distilabel_magpie.errors import ArgillaUnavailable, MagpieError, one_line
from distilabel_magpie.review.dataset_settings import (
    build_settings,
    has_flag,
    has_reasoning,
    kind_of,
    settings_mismatch,
)

if TYPE_CHECKING:
    import argilla as rg

API_URL_ENV = "ARGILLA_API_URL"
API_KEY_ENV = "ARGILLA_API_KEY"


def resolve_credentials(api_url: Optional[str] = None, api_key: Optional[str] = None) -> tuple[str, str]:
    """Explicit values, else ARGILLA_API_URL / ARGILLA_API_KEY, else the running local review server."""
    api_url = api_url or os.environ.get(API_URL_ENV)
    api_key = api_key or os.environ.get(API_KEY_ENV)
    if not (api_url and api_key):
        from distilabel_magpie.review.server.manager import read_credentials

        local = read_credentials()
        if local is not None and (api_url is None or api_url.rstrip("/") == local.api_url):
            api_url, api_key = local.api_url, api_key or local.api_key
    if not api_url or not api_key:
        raise MagpieError(
            f"no Argilla server given: set {API_URL_ENV} and {API_KEY_ENV}, or start the local one with "
            "`distilabel-magpie review-server start`"
        )
    return api_url.rstrip("/"), api_key


def connect(api_url: Optional[str] = None, api_key: Optional[str] = None, timeout: int = 60) -> "rg.Argilla":
    import argilla as rg
    import httpx
    from argilla._exceptions import ArgillaCredentialsError

    url, key = resolve_credentials(api_url, api_key)
    headers = {}
    if "hf.space" in url and os.environ.get("HF_TOKEN"):  # private Spaces need the HF token too
        headers["Authorization"] = f"Bearer {os.environ['HF_TOKEN']}"
    try:
        return rg.Argilla(api_url=url, api_key=key, timeout=timeout, retries=2, headers=headers)
    except ArgillaCredentialsError:
        raise MagpieError(f"Argilla at {url} rejected the API key: check {API_KEY_ENV}") from None
    except httpx.TransportError as e:
        raise MagpieError(
            f"cannot reach Argilla at {url} ({type(e).__name__}): is the server running? "
            "(`distilabel-magpie review-server status`)"
        ) from None
    except Exception as e:  # e.g. a proxy answering HTML, a 5xx
        raise MagpieError(f"Argilla at {url} did not answer as an Argilla 2.x server: {one_line(e)}") from None


def secret_value(value: Any) -> Optional[str]:
    """The text of an API key given as a `SecretStr` or as plain text."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class ArgillaConnection(BaseModel):
    """The Argilla server of a step (the push steps and `LoadReviewedFromArgilla`): `api_url` and
    `api_key`, each by default from the environment, else the running local review server."""

    api_url: Optional[RuntimeParameter[str]] = Field(
        default=None,
        description="Argilla API URL (default: ARGILLA_API_URL, else the running local review server).")
    # Excluded from dumps (distilabel also drops any field named api_key): never in a pipeline YAML.
    api_key: Optional[RuntimeParameter[SecretStr]] = Field(
        default=None, exclude=True,
        description="Argilla API key (default: ARGILLA_API_KEY, else the local review server's key).")

    def argilla_client(self) -> "rg.Argilla":
        """A client of the step's Argilla server (one-line errors when it cannot be used)."""
        return connect(self.api_url, secret_value(self.api_key))


def get_dataset(client: "rg.Argilla", name: str, workspace: Optional[str] = None) -> Optional["rg.Dataset"]:
    import httpx

    try:
        return client.datasets(name=name, workspace=workspace)
    except httpx.TransportError as e:
        raise ArgillaUnavailable(f"cannot look up Argilla dataset {name!r}: {one_line(e)}") from None
    except Exception as e:
        raise MagpieError(f"cannot look up Argilla dataset {name!r}: {one_line(e)}") from None


def ensure_dataset(
    client: "rg.Argilla", name: str, kind: str, workspace: Optional[str] = None,
    vector_dimensions: Optional[int] = None, reasoning: bool = False,
    metadata: Optional[Iterable[str]] = None, tags: Optional[Iterable[str]] = None, flag: bool = False,
) -> "rg.Dataset":
    """The dataset `name`, created with our layout for `kind` if missing (with the metadata
    properties `metadata` and the judge-tag questions `tags` the rows have); an existing one must
    have a compatible layout (one-line error otherwise, nothing is logged into it). An existing
    dataset with a reasoning or flag field also takes rows without them."""
    import argilla as rg

    dataset = get_dataset(client, name, workspace)
    if dataset is not None:
        reasoning = reasoning or has_reasoning(dataset.settings)
        if flag and not has_flag(dataset.settings) and kind_of(dataset.settings) == kind:
            raise MagpieError(f"Argilla dataset {name!r} was created without a flag field: push flagged answers "
                              "(include_flagged) to another dataset name")
        flag = flag or has_flag(dataset.settings)
    wanted = build_settings(kind, vector_dimensions, reasoning, metadata, tags, flag)
    if dataset is None:
        if workspace is None and not list(client.workspaces):
            raise MagpieError("the Argilla server has no workspace: create one (the local review server has one)")
        try:
            dataset = rg.Dataset(name=name, workspace=workspace, settings=wanted, client=client).create()
        except Exception as e:
            raise MagpieError(f"cannot create Argilla dataset {name!r}: {one_line(e)}") from None
        return dataset
    if reasoning and not has_reasoning(dataset.settings) and kind_of(dataset.settings) == kind:  # asked for
        raise MagpieError(f"Argilla dataset {name!r} was created from rows without reasoning and has no reasoning "
                          "field: push rows with reasoning to another dataset name")
    problem = settings_mismatch(wanted, dataset.settings)
    if problem:
        found = kind_of(dataset.settings)
        what = f"a {found} review dataset" if found else "a dataset with other settings"
        raise MagpieError(
            f"Argilla dataset {name!r} exists as {what} ({problem}): push {kind} rows to another dataset name"
        )
    return dataset
