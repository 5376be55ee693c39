"""Init containers that pull into the inference pod: adapter images and preset weights images.

Pure: no I/O, no clock, no logging.

- **Adapters** (``inference.adapters[].source.image``): one ``puller-<name>`` init container per
  image adapter (skopeo), with the adapter's pull secrets projected under
  ``$HOME/.docker/config.d/<name>-inference-adapter`` (``HOME`` is ``/home/kaito`` for the
  restricted pod security profile, root's ``/root`` for baseline); its ``/data`` becomes
  ``/mnt/adapter/<name>`` (controller.md §3.8). The image and target reach the script as quoted
  shell words (`puller_script`), never as code.
- **Weights shipped in an image** (a preset with ``download_at_runtime`` false): upstream's
  ``model-weights-downloader`` (``oras pull <registry>/kaito-<name>:<tag> -o /workspace/weights``),
  as an argv list, no shell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kaito_core.api.types import AdapterSpec, Workspace
from kaito_core.errors import SpecError
from kaito_core.render.commands import WEIGHTS_PATH, quote_value
from kaito_core.render.context import RenderContext
from kaito_core.render.podsecurity import ROOT_HOME
from kaito_core.render.tuning import ORAS_IMAGE

__all__ = [
    "ADAPTER_MOUNT_PATH",
    "PULLER_IMAGE",
    "WEIGHTS_VOLUME",
    "adapter_pull_secrets",
    "adapter_pullers",
    "normalize_image_ref",
    "puller_script",
    "weights_downloader",
    "weights_image",
]

PULLER_IMAGE = "mcr.microsoft.com/aks/skopeo:1.14.4-6"
ADAPTER_MOUNT_PATH = "/mnt/adapter"
WEIGHTS_VOLUME = "model-weights-volume"


def _mount(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "mountPath": path}


# --- adapters ---------------------------------------------------------------------------------

_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def normalize_image_ref(ref: str) -> str:
    """An image reference in full Docker form, as ``reference.ParseDockerRef`` writes it.

    ``adapter`` -> ``docker.io/library/adapter:latest``; a digest drops the tag.
    """
    name, digest = ref, ""
    if "@" in ref:
        name, digest = ref.split("@", 1)
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    full = f"{domain}/{path}"
    if digest and _DIGEST_RE.match(digest):
        return f"{full}@{digest}"
    return f"{full}:{tag or 'latest'}"


def puller_script(image: str, target: str) -> str:
    """The shell script an adapter puller runs: copy `image`, unpack it, move ``/data`` to `target`.

    It tries an anonymous pull first and then each registry credential projected under
    ``~/.docker/config.d``; the layers are unpacked in order and the image's ``/data``
    directory becomes `target`.
    """
    return "\n".join(
        [
            "set -eu",
            f"image={quote_value(normalize_image_ref(image))}",
            f"target={quote_value(target)}",
            'work="$(mktemp -d)"',
            'layout="${work}/layout"',
            'rootfs="${work}/rootfs"',
            'credentials="${HOME:-/root}/.docker/config.d"',
            "pulled=no",
            'auth_files=""',
            'if [ -d "${credentials}" ]; then auth_files="$(find "${credentials}" -type f)"; fi',
            "for auth in none ${auth_files}; do",
            '  if [ "${auth}" = none ]; then auth_flag=""; else auth_flag="--authfile=${auth}"; fi',
            "  if skopeo copy --dest-decompress ${auth_flag} \\",
            '      "docker://${image}" "dir:${layout}"; then',
            "    pulled=yes",
            "    break",
            "  fi",
            "done",
            'if [ "${pulled}" != yes ]; then echo "cannot pull ${image}" >&2; exit 1; fi',
            'mkdir -p "${rootfs}"',
            "layers=\"$(skopeo inspect --format '{{ range .Layers }}{{ slice . 7 }} {{ end }}' "
            '"dir:${layout}")"',
            "for layer in ${layers}; do",
            '  tar -x -f "${layout}/${layer}" -C "${rootfs}"',
            "done",
            'rm -rf "${target}"',
            'mv "${rootfs}/data" "${target}"',
            "",
        ]
    )


def _secret_volume(name: str, secrets: Sequence[str]) -> dict[str, Any]:
    return {
        "name": name,
        "projected": {
            "sources": [
                {
                    "secret": {
                        "name": secret,
                        "items": [{"key": ".dockerconfigjson", "path": f"{secret}.json"}],
                    }
                }
                for secret in secrets
            ]
        },
    }


def adapter_pullers(
    adapters: Sequence[AdapterSpec], *, home: str = ROOT_HOME
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Init containers, volumes and main-container mounts of the image `adapters`; pull secrets
    go under ``<home>/.docker/config.d`` (the pullers' ``HOME``).

    Pure: no I/O, no clock, no logging.
    """
    adapter_mount = _mount("adapter-volume", ADAPTER_MOUNT_PATH)
    inits: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = [{"name": "adapter-volume", "emptyDir": {}}]
    for adapter in adapters:
        source = adapter.source
        assert source is not None
        assert source.image is not None
        name = source.name or ""
        puller_mounts = [dict(adapter_mount)]
        if source.image_pull_secrets:
            suffix = f"{name}-inference-adapter"
            volume_name = f"docker-config-{suffix}"
            volumes.append(_secret_volume(volume_name, source.image_pull_secrets))
            puller_mounts.append(_mount(volume_name, f"{home}/.docker/config.d/{suffix}"))
        inits.append(
            {
                "name": f"puller-{name}",
                "image": PULLER_IMAGE,
                "command": ["/bin/sh", "-c"],
                "args": [puller_script(source.image, f"{ADAPTER_MOUNT_PATH}/{name}")],
                "volumeMounts": puller_mounts,
            }
        )
    return inits, volumes, [adapter_mount]


def adapter_pull_secrets(workspace: Workspace) -> list[dict[str, str]]:
    """The adapters' pull secrets, first occurrence first (preset pull secrets are ignored).

    Pure: no I/O, no clock, no logging.
    """
    names: list[str] = []
    for adapter in (workspace.inference.adapters or ()) if workspace.inference else ():
        for secret in (adapter.source.image_pull_secrets or ()) if adapter.source else ():
            if secret not in names:
                names.append(secret)
    return [{"name": name} for name in names]


# --- weights shipped in an image -------------------------------------------------------------


def weights_image(ctx: RenderContext) -> str:
    """``<registry>/kaito-<name>:<tag>``: the OCI artifact holding the weights of a preset that
    does not download them at runtime (`SpecError` when the preset names no tag)."""
    model = ctx.model
    assert model is not None
    if not model.weights_image_tag:
        raise SpecError(
            f"preset {model.name} ships its weights in an image but names no image tag",
            path="spec.inference.preset.name",
            reason="UnsupportedPreset",
        )
    return f"{ctx.registry}/kaito-{model.name}:{model.weights_image_tag}"


def weights_downloader(ctx: RenderContext) -> dict[str, Any]:
    """Upstream's ``model-weights-downloader``: ``oras pull <image> -o /workspace/weights``."""
    return {
        "name": "model-weights-downloader",
        "image": ORAS_IMAGE,
        "command": ["oras", "pull", weights_image(ctx), "-o", WEIGHTS_PATH],
        "volumeMounts": [_mount(WEIGHTS_VOLUME, WEIGHTS_PATH)],
    }
