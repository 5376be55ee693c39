"""How the operator is set up for RAGEngines: the same for every RAGEngine it reconciles.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import attrs

from kaito_core.decision import PlanSettings

__all__ = ["DEFAULT_RAG_SERVICE_IMAGE", "DEFAULT_RELEASE_NAMESPACE", "RAGEngineSettings"]

#: The RAG service image upstream's v0.12 chart deploys (``presetRag*`` values).
DEFAULT_RAG_SERVICE_IMAGE = "mcr.microsoft.com/aks/kaito/kaito-rag-service:0.12.0"
#: Where the operator runs (and where a ``ragengine-guardrails-policy-template`` may live).
DEFAULT_RELEASE_NAMESPACE = "kaito-system"


@attrs.frozen(kw_only=True)
class RAGEngineSettings:
    """Operator settings a RAGEngine plan depends on.

    - `provisioner`, `cloud`, `default_node_image_family`: as `kaito_core.plan.PlanSettings`
      (``byo`` provisions nothing; the cloud picks the NodeClaim's node class).
    - `image`: the RAG service image (upstream: ``PRESET_RAG_REGISTRY_NAME`` /
      ``_IMAGE_NAME`` / ``_IMAGE_TAG``).
    - `release_namespace`: where a cluster-wide ``ragengine-guardrails-policy-template``
      ConfigMap would be read from.
    - `vllm_enabled`: the ``vLLM`` feature gate, to know which runtime a Workspace the RAGEngine
      points at serves (and so which paths).
    - `pod_security`: how the RAG service pod is secured (`kaito_core.render.podsecurity`).
    """

    provisioner: str = "karpenter"
    cloud: str = "azure"
    default_node_image_family: str | None = None
    image: str = DEFAULT_RAG_SERVICE_IMAGE
    release_namespace: str = DEFAULT_RELEASE_NAMESPACE
    vllm_enabled: bool = True
    pod_security: str = "restricted"

    @classmethod
    def from_plan_settings(
        cls,
        settings: PlanSettings,
        *,
        image: str = DEFAULT_RAG_SERVICE_IMAGE,
        release_namespace: str = DEFAULT_RELEASE_NAMESPACE,
    ) -> RAGEngineSettings:
        """The RAGEngine settings of an operator configured with `settings` for Workspaces."""
        return cls(
            provisioner=settings.provisioner,
            cloud=settings.cloud,
            default_node_image_family=settings.default_node_image_family,
            image=image,
            release_namespace=release_namespace,
            vllm_enabled=settings.vllm_enabled,
            pod_security=settings.pod_security,
        )

    @property
    def node_auto_provisioning(self) -> bool:
        return self.provisioner != "byo"
