"""``spec.resource``: node count, label selector, instance type, partitions, GPU memory.

Pure: no I/O, no clock, no logging.

Upstream's ``ResourceSpec.validateCreateWithInference`` / ``validateCreateWithTuning`` and the
instance-type rules of ``validateCreate``, plus the CRD's own constraints (``labelSelector``
required, ``count`` and ``partition.count`` at least 1) and a sane ceiling on both
(`MAX_NODE_COUNT`, `MAX_PARTITION_GPUS`): the CRD's integers have no upper bound, and 2^63
nodes must not be planned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.types import LabelSelector, ResourceSpec
from kaito_core.errors import FieldError, UnsupportedGpuError
from kaito_core.gpu import KNOWN_MIG_PROFILES, GpuConfig
from kaito_core.render.meta import RESERVED_LABEL_KEYS, reserved_label_owner
from kaito_core.runtime_policy import runtime_policy
from kaito_core.validation.endpoints import placeholder_problem
from kaito_core.validation.facts import Facts
from kaito_core.validation.names import label_value, map_key_path, number, qualified_name, quote
from kaito_core.validation.names import validate_labels as _validate_labels
from kaito_presets import GIB, Catalog, GpuSku, ModelPreset
from kaito_presets.suggestions import did_you_mean

__all__ = [
    "MAX_NODE_COUNT",
    "MAX_PARTITION_GPUS",
    "MIG_PROFILES",
    "NodeGpus",
    "byo_node_gpus",
    "gpu_policy",
    "mig_profile_problem",
    "nearest_skus",
    "selector_as_map",
    "unsupported_sku_message",
    "validate_count",
    "validate_instance_type_nap",
    "validate_memory",
    "validate_node_labels",
    "validate_partition",
    "validate_selector",
]

R = "spec.resource"

#: Every MIG profile upstream accepts (``pkg/utils/mig/mig.go``), A30 to B200.
MIG_PROFILES = tuple(KNOWN_MIG_PROFILES)
_MIG_RE = re.compile(r"([0-9]+)g\.([0-9.]+)gb")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
#: How many supported SKUs an "Unsupported instance type" message names.
SKU_LIST_LIMIT = 10
#: The most nodes one Workspace may ask for with ``resource.count`` (each is a NodeClaim).
MAX_NODE_COUNT = 1000
#: The most GPUs an accelerator partition may ask for (no node has more than 16 today).
MAX_PARTITION_GPUS = 64


def _range_problem(value: int, maximum: int) -> str | None:
    """The API server's wording for an integer outside ``[1, maximum]``."""
    if value < 1:
        return f"invalid value {number(value)}: must be greater than or equal to 1"
    if value > maximum:
        return f"invalid value {number(value)}: must be less than or equal to {maximum}"
    return None


# --- count and selector -----------------------------------------------------------------------


def validate_count(resource: ResourceSpec | None, *, bounded: bool = True) -> list[FieldError]:
    """``resource.count`` must be 1 (the CRD default) to `MAX_NODE_COUNT` (only at least 1 when
    not `bounded`: an update that keeps a count stored before the bound existed)."""
    if resource is None or resource.count is None:
        return []
    maximum = MAX_NODE_COUNT if bounded else resource.count
    if problem := _range_problem(resource.count, max(maximum, 1)):
        return [FieldError(path=f"{R}.count", message=problem)]
    return []


def selector_as_map(selector: LabelSelector | None) -> tuple[dict[str, str], FieldError | None]:
    """``metav1.LabelSelectorAsMap``: matchLabels plus single-value ``In`` expressions."""
    result: dict[str, str] = dict(selector.match_labels or {}) if selector else {}
    for index, expr in enumerate((selector.match_expressions or ()) if selector else ()):
        path = f"{R}.labelSelector.matchExpressions[{index}].operator"
        if expr.operator == "In":
            if len(expr.values or ()) != 1:
                return result, FieldError(
                    path=path,
                    message='operator "In" without a single value cannot be converted into the '
                    "old label selector format",
                )
            result[expr.key] = (expr.values or ("",))[0]
        elif expr.operator in _OPERATORS:
            return result, FieldError(
                path=path,
                message=f'operator "{expr.operator}" cannot be converted into the old label '
                "selector format",
            )
        else:
            return result, FieldError(
                path=path, message=f"{quote(expr.operator)} is not a valid selector operator"
            )
    return result, None


def _expression_syntax(selector: LabelSelector) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, expr in enumerate(selector.match_expressions or ()):
        base = f"{R}.labelSelector.matchExpressions[{index}]"
        if problems := qualified_name(expr.key):
            errors.append(
                FieldError(
                    path=f"{base}.key",
                    message=f"invalid value {quote(expr.key)}: " + "; ".join(problems),
                )
            )
        for v_index, value in enumerate(expr.values or ()):
            if problems := label_value(value):
                errors.append(
                    FieldError(
                        path=f"{base}.values[{v_index}]",
                        message=f"invalid value {quote(value)}: " + "; ".join(problems),
                    )
                )
    return errors


def validate_selector(
    resource: ResourceSpec | None, *, reserved_check: bool = True
) -> list[FieldError]:
    """``labelSelector``: required by the CRD, Kubernetes label syntax, convertible to a map,
    and (R3) not made only of KAITO's reserved keys."""
    selector = resource.label_selector if resource is not None else None
    if selector is None:
        return [FieldError(path=f"{R}.labelSelector", message="required field is missing")]
    errors = _validate_labels(selector.match_labels or {}, f"{R}.labelSelector.matchLabels")
    errors += _expression_syntax(selector)
    _, problem = selector_as_map(selector)
    if problem is not None:
        errors.append(problem)
    labels = selector.match_labels or {}
    if reserved_check and labels and all(k in RESERVED_LABEL_KEYS for k in labels):
        errors.append(
            FieldError(
                path=f"{R}.labelSelector.matchLabels",
                message="matchLabels must contain at least one non-reserved label",
            )
        )
    return errors


def validate_node_labels(facts: Facts) -> list[FieldError]:
    """With node auto-provisioning, a matchLabels key owned by Kubernetes, Karpenter or KAITO
    (`reserved_label_owner`) is refused: the labels are copied onto the nodes KAITO creates,
    where the owner sets the key itself (``karpenter.sh/nodepool`` would replace KAITO's own,
    ``kubernetes.io/hostname`` can never match a new node). KAITO's eight workspace keys are
    stripped instead, as upstream does. With your own nodes the selector only selects, so any
    key is fine."""
    if not facts.nap:
        return []
    errors: list[FieldError] = []
    for key in sorted(facts.ws.match_labels):
        owner = reserved_label_owner(key)
        if owner is None or key in RESERVED_LABEL_KEYS:
            continue
        errors.append(
            FieldError(
                path=map_key_path(f"{R}.labelSelector.matchLabels", key),
                message=f"label key {quote(key)} is owned by {owner}: KAITO copies matchLabels "
                "onto the nodes it creates, so use a label of your own (keys under "
                "kubernetes.io, k8s.io, karpenter.sh and kaito.sh are reserved)",
            )
        )
    return errors


# --- instance types ----------------------------------------------------------------------------


def nearest_skus(catalog: Catalog, instance_type: str, cloud: str) -> tuple[list[str], int]:
    """Up to ten supported SKU names sharing the longest prefix with `instance_type`, and how
    many more there are."""
    names = [s.instance_type for s in catalog.skus(cloud=cloud) if not s.legacy]
    wanted = instance_type.lower()

    def shared(name: str) -> int:
        lowered = name.lower()
        n = 0
        while n < min(len(lowered), len(wanted)) and lowered[n] == wanted[n]:
            n += 1
        return n

    ranked = sorted(names, key=lambda n: (-shared(n), n.lower()))
    shown = sorted(ranked[:SKU_LIST_LIMIT], key=str.lower)
    return shown, max(0, len(names) - len(shown))


#: How the clouds with a SKU table are named in messages.
_CLOUD_NAMES = {"azure": "Azure", "aws": "AWS", "arc": "Azure Arc"}


def unsupported_sku_message(catalog: Catalog, instance_type: str, cloud: str) -> str:
    """Why `instance_type` is not one of `cloud`'s, and what to do:

    - a placeholder from an example (``<your-vm-sku>``): says so;
    - an instance type of another cloud: ``g5.12xlarge is an AWS instance type; use
      --cloud-provider aws``;
    - else ``Unsupported instance type X. Did you mean Y? Supported SKUs: ...``, the list
      shortened to the nearest names (the suggestion only when one is close).

    Pure: no I/O, no clock, no logging.
    """
    placeholder = placeholder_problem(
        instance_type, replacement="an instance type of your cloud (see `kaito skus`)"
    )
    if placeholder is not None:
        return f"Unsupported instance type {instance_type}: {placeholder}"
    elsewhere = catalog.find_sku(instance_type)
    if elsewhere is not None and elsewhere.cloud != cloud:
        owner = _CLOUD_NAMES.get(elsewhere.cloud, elsewhere.cloud)
        article = "an" if owner[:1] in "AEIOU" else "a"
        return (
            f"Unsupported instance type {instance_type} for cloud provider {cloud}: "
            f"{elsewhere.instance_type} is {article} {owner} instance type; use "
            f"--cloud-provider {elsewhere.cloud}"
        )
    shown, more = nearest_skus(catalog, instance_type, cloud)
    listing = ", ".join(shown) if shown else "none"
    if more:
        listing += f", and {more} more; see `kaito skus`"
    suggestion = did_you_mean(catalog.similar_instance_types(instance_type, cloud=cloud))
    hint = f" {suggestion[:1].upper()}{suggestion[1:]}" if suggestion else ""
    return f"Unsupported instance type {instance_type}.{hint} Supported SKUs: {listing}"


def validate_instance_type_nap(facts: Facts) -> tuple[list[FieldError], GpuSku | None]:
    """R7/R8: a SKU table for the cloud, and the instance type in it (no Azure N/D exemption)."""
    instance_type = facts.instance_type
    if not instance_type:
        return [], None
    cloud = facts.context.cloud_provider
    if not facts.catalog.skus(cloud=cloud):
        return [
            FieldError(
                path=f"{R}.instanceType",
                message=f"Failed to get SKU handler: Unsupported cloud provider {cloud}",
            )
        ], None
    sku = facts.catalog.find_sku(instance_type, cloud=cloud)
    if sku is None:
        return [
            FieldError(
                path=f"{R}.instanceType",
                message=unsupported_sku_message(facts.catalog, instance_type, cloud),
            )
        ], None
    return [], sku


# --- partitions --------------------------------------------------------------------------------


def mig_profile_problem(profile: str) -> str | None:
    """Upstream ``ValidateMIGProfile``: the ``<n>g.<m>gb`` format and a known profile."""
    match = _MIG_RE.fullmatch(profile)
    if match is None:
        return f"invalid MIG profile format {quote(profile)}: expected format like '1g.10gb'"
    if int(match.group(1)) == 0:
        return f"invalid MIG profile {quote(profile)}: compute slices must be > 0"
    if profile not in KNOWN_MIG_PROFILES:
        known = " ".join(sorted(KNOWN_MIG_PROFILES))
        return f"unknown MIG profile {quote(profile)}: must be one of [{known}]"
    return None


def mig_memory_gib(profile: str) -> int:
    """Memory of one slice of a (valid) MIG profile, whole GiB (floored, as upstream)."""
    match = _MIG_RE.fullmatch(profile)
    assert match is not None
    return int(float(match.group(2)))


def validate_partition(facts: Facts, model: ModelPreset | None) -> list[FieldError]:
    """R4 (BYO): the mode, its feature gate and fields, and the MIG slice fitting the model."""
    resource = facts.ws.resource
    partition = resource.partition if resource else None
    if partition is None:
        return []
    base = f"{R}.partition"
    errors: list[FieldError] = []
    if partition.count is not None and (
        problem := _range_problem(partition.count, MAX_PARTITION_GPUS)
    ):
        errors.append(FieldError(path=f"{base}.count", message=problem))
    gates = facts.gates
    if partition.mode == "mig":
        if not gates.enable_mig:
            errors.append(
                FieldError(
                    path=f"{base}.mode",
                    message="MIG support is not enabled, set feature gate enableMIG=true",
                )
            )
        if partition.count is not None:
            errors.append(
                FieldError(path=f"{base}.count", message="count is only valid for accelerator mode")
            )
        if not partition.profile:
            errors.append(
                FieldError(path=f"{base}.profile", message="profile is required for mig mode")
            )
        elif (problem := mig_profile_problem(partition.profile)) is not None:
            errors.append(FieldError(path=f"{base}.profile", message=problem))
        elif model is not None and not facts.bypass:
            slice_gib = mig_memory_gib(partition.profile)
            if model.weights_bytes > slice_gib * GIB:
                errors.append(
                    FieldError(
                        path=base,
                        message=f"Model {model.name} requires at least {model.model_file_size} "
                        f"for weights, which exceeds the {partition.profile} MIG slice capacity "
                        f"of {slice_gib}Gi",
                    )
                )
    elif partition.mode == "accelerator":
        if not gates.enable_accelerator:
            errors.append(
                FieldError(
                    path=f"{base}.mode",
                    message="accelerator partition support is not enabled, set feature gate "
                    "enableAccelerator=true",
                )
            )
        if partition.profile:
            errors.append(
                FieldError(
                    path=f"{base}.profile", message="profile is not valid for accelerator mode"
                )
            )
        if partition.count is None:
            errors.append(
                FieldError(
                    path=f"{base}.count",
                    message="required field is missing: count is required for accelerator mode",
                )
            )
    else:
        errors.append(
            FieldError(
                path=f"{base}.mode",
                message=f"unsupported partition mode {quote(partition.mode)}, supported modes are "
                '"mig" and "accelerator"',
            )
        )
    return errors


# --- BYO nodes ----------------------------------------------------------------------------------


class NodeGpus:
    """What the NVIDIA GPU feature discovery labels of matched BYO nodes say."""

    __slots__ = ("count", "labels", "memory_mib", "nodes", "product")

    def __init__(
        self,
        *,
        product: str,
        count: int,
        memory_mib: int,
        nodes: int,
        labels: Mapping[str, str],
    ) -> None:
        self.product = product
        self.count = count
        self.memory_mib = memory_mib
        self.nodes = nodes
        self.labels = labels

    @property
    def node_memory_gib(self) -> int:
        """GPU memory of one node: ``round(MiB / 1024) * count`` GiB, as upstream computes it."""
        return int(self.memory_mib / 1024 + 0.5) * self.count


def _node_meta(node: Mapping[str, Any]) -> tuple[str, Mapping[str, str]]:
    meta = node.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name")
    labels = meta.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    return (name if isinstance(name, str) else ""), {str(k): str(v) for k, v in labels.items()}


def _matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _positive_int(text: str) -> int | None:
    return int(text) if re.fullmatch("[0-9]{1,9}", text.strip()) else None


def byo_node_gpus(
    nodes: Sequence[Mapping[str, Any]], selector: Mapping[str, str]
) -> tuple[NodeGpus | None, list[FieldError]]:
    """R5: the matched nodes' GPUs, which must be labelled and uniform."""
    path = f"{R}.labelSelector"
    matched = [_node_meta(n) for n in nodes]
    matched = [(name, labels) for name, labels in matched if _matches(labels, selector)]
    if not matched:
        return None, [
            FieldError(path=path, message="No nodes found matching the specified label selector")
        ]
    first: NodeGpus | None = None
    previous = ""
    for name, labels in matched:
        product = labels.get("nvidia.com/gpu.product", "")
        count = _positive_int(labels.get("nvidia.com/gpu.count", ""))
        memory = _positive_int(labels.get("nvidia.com/gpu.memory", ""))
        if not product or count is None or memory is None:
            return None, [
                FieldError(
                    path=path,
                    message=f"Failed to get GPU config from nvidia labels on node {name}: missing "
                    f"required nvidia.com labels on node {name}",
                )
            ]
        if first is None:
            first = NodeGpus(
                product=product, count=count, memory_mib=memory, nodes=len(matched), labels=labels
            )
            previous = name
            continue
        for what, mine, theirs in (
            ("product", f"{product} GPUs", f"{first.product} GPUs"),
            ("count", f"{count} GPUs", f"{first.count} GPUs"),
            ("memory", f"{memory}MiB per GPU", f"{first.memory_mib}MiB per GPU"),
        ):
            if mine != theirs:
                return None, [
                    FieldError(
                        path=path,
                        message=f"Non-uniform GPU {what}: node {name} has {mine}, but previous "
                        f"node {previous} has {theirs}, all nodes must have the same GPU {what} "
                        "for homogeneous placement",
                    )
                ]
        previous = name
    return first, []


# --- GPU memory ---------------------------------------------------------------------------------


def _gib(value: float) -> str:
    return f"{value:g}Gi"


def validate_memory(
    facts: Facts,
    model: ModelPreset,
    *,
    node_memory_gib: float,
    machines: int,
    where: str,
    distributed_rule: bool = True,
) -> list[FieldError]:
    """R9: the nodes together hold the weights; Transformers cannot spread over nodes."""
    errors: list[FieldError] = []
    total = node_memory_gib * machines
    if not facts.bypass and total * GIB < model.weights_bytes:
        errors.append(
            FieldError(
                path=f"{R}.instanceType" if facts.instance_type else f"{R}.labelSelector",
                message=f"Insufficient total GPU memory: {where} has a total of {_gib(total)}, "
                f"but preset {model.name} requires at least {model.model_file_size}",
            )
        )
    if (
        distributed_rule
        and facts.runtime == "transformers"
        and model.distributed
        and model.weights_bytes > node_memory_gib * GIB
    ):
        errors.append(
            FieldError(
                path=R,
                message="Multi-node distributed inference is not supported with Huggingface "
                "Transformers runtime",
            )
        )
    return errors


def gpu_policy(facts: Facts, gpu: GpuConfig, path: str) -> list[FieldError]:
    """A runtime must be able to start on these GPUs (pre-Ampere: float16; older or non-NVIDIA:
    none)."""
    try:
        runtime_policy(gpu=gpu, runtime=facts.runtime, catalog=facts.catalog)
    except UnsupportedGpuError as exc:
        return [FieldError(path=path, message=exc.message)]
    return []
