"""The InferenceSet kind: replicas of an inference Workspace, scaled by hand or by KEDA.

Pure: no I/O, no clock, no logging.

- `plan_inferenceset`: the replica Workspaces to create and delete (rolling updates within
  ``maxUnavailable``, ``spec.nodeCountLimit`` enforced), the KEDA ScaledObject, the status;
- `child_workspace`: the Workspace one replica is (what validation checks too);
- `scaled_object` / `autoscaling`: the ScaledObject keda-kaito-scaler would provision;
- the kind's facts for the registry (`GROUP`, `KIND`, `PLURAL`, ..., `PRINTER_COLUMNS`); its
  registration is `kaito_core.inferenceset.kind.INFERENCESET` (a module of its own: it needs
  the validation, which needs this package).

- the webhook's rules are `kaito_core.validation.inferenceset.validate_inferenceset`.

The API types live in `kaito_core.api` (`InferenceSet`, ...). See ``docs/inferenceset.md``.
"""

from kaito_core.inferenceset.children import (
    Replica,
    child_name,
    child_workspace,
    observed_replicas,
    template_hash,
)
from kaito_core.inferenceset.facts import (
    CATEGORIES,
    CONDITION_DELETING,
    CONDITION_NODE_COUNT_LIMIT,
    CONDITION_READY,
    CONDITION_REPLICA_CONFLICT,
    CONDITION_REPLICAS_HEALTHY,
    CONDITION_SCALED_OBJECT,
    FINALIZER,
    GROUP,
    KIND,
    LABEL_CREATED_BY,
    LABEL_TEMPLATE_HASH,
    LIST_KIND,
    MAX_NODE_COUNT_LIMIT,
    MAX_REPLICAS,
    OWNED_KINDS,
    PLURAL,
    PRINTER_COLUMNS,
    SCALE_SUBRESOURCE,
    SHORT_NAMES,
    SINGULAR,
    STATUS_IS_TERMINAL,
    VERSIONS,
)
from kaito_core.inferenceset.keda import (
    Autoscaling,
    KedaScaler,
    autoscaling,
    autoscaling_problems,
    scaled_object,
)
from kaito_core.inferenceset.plan import InferenceSetOptions, plan_inferenceset
from kaito_core.inferenceset.rollout import Rollout, plan_rollout

__all__ = [
    "CATEGORIES",
    "CONDITION_DELETING",
    "CONDITION_NODE_COUNT_LIMIT",
    "CONDITION_READY",
    "CONDITION_REPLICAS_HEALTHY",
    "CONDITION_REPLICA_CONFLICT",
    "CONDITION_SCALED_OBJECT",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_CREATED_BY",
    "LABEL_TEMPLATE_HASH",
    "LIST_KIND",
    "MAX_NODE_COUNT_LIMIT",
    "MAX_REPLICAS",
    "OWNED_KINDS",
    "PLURAL",
    "PRINTER_COLUMNS",
    "SCALE_SUBRESOURCE",
    "SHORT_NAMES",
    "SINGULAR",
    "STATUS_IS_TERMINAL",
    "VERSIONS",
    "Autoscaling",
    "InferenceSetOptions",
    "KedaScaler",
    "Replica",
    "Rollout",
    "autoscaling",
    "autoscaling_problems",
    "child_name",
    "child_workspace",
    "observed_replicas",
    "plan_inferenceset",
    "plan_rollout",
    "scaled_object",
    "template_hash",
]
