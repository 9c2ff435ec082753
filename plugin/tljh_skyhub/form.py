"""The spawn form: one choice per image, each with its display name, version and description (like the
profile list of Zero to JupyterHub), from the same `skyhub.images` settings the spawner allows.

The field stays DockerSpawner's `<select name="image">` (values are the image names, which DockerSpawner's
own options_from_form turns into user_options["image"] and checks against allowed_images)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any


def image_version(img: Mapping[str, Any]) -> str:
    """The image's version: given, else its tag (skyhub/astro:2026.11.0 -> 2026.11.0)."""
    return str(img.get("version") or str(img["image"]).rsplit("/", 1)[-1].partition(":")[2])


def options_form(settings: Mapping[str, Any]) -> str:
    default = settings["default_image"]
    options, cards = [], []
    for img in settings["images"]:
        name = escape(str(img["name"]))
        title = escape(str(img.get("display_name") or img["name"]))
        version = escape(image_version(img))
        description = escape(str(img.get("description") or ""))
        selected = " selected" if img["name"] == default else ""
        options.append(f'<option value="{name}"{selected}>{title} ({version})</option>')
        cards.append(
            f'<dt id="skyhub-image-{name}">{title} <small>version {version}'
            f"{' · default' if selected else ''}</small></dt>"
            f"<dd><p>{description}</p><p><code>{escape(str(img['image']))}</code></p></dd>"
        )
    return (
        '<div class="form-group">'
        '<label for="skyhub-image">Environment</label>'
        '<select class="form-control" id="skyhub-image" name="image" required autofocus>'
        + "".join(options)
        + "</select></div>"
        + '<dl class="skyhub-images">'
        + "".join(cards)
        + "</dl>"
    )
