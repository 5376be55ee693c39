"""A local Kubernetes control plane for the real-cluster test tier, built from Go modules.

Development tooling, not part of the shipped package (``tools/`` is not in the wheel):

- `tools.cluster.build`: the Go components (etcd, kube-apiserver, kube-controller-manager,
  kube-scheduler, kubectl, kwok, Karpenter's kwok provider, helm), each a small Go module under
  ``tools/cluster/<component>/`` at pinned versions, built into a user cache keyed by a hash of
  the module's files, so a binary is rebuilt only when a pin changes;
- `tools.cluster.pki`: the certificates, keys and tokens of a cluster (``cryptography``);
- `tools.cluster.instance_types`: Karpenter-kwok's instance types, one per GPU SKU of the
  project's catalog;
- `tools.cluster.processes`: starting, watching and stopping processes by PID;
- `tools.cluster.controlplane`: `ControlPlane`, everything on 127.0.0.1 on free ports, its state
  in one directory (``.cluster/up`` for ``up``, ``.cluster/tier`` for the test tier);
- `tools.cluster.operator`: installing ``kaito manifests`` and running ``kaito operator`` from
  the working tree as its ServiceAccount.

``python -m tools.cluster up|down|status|build`` (what ``nox -s cluster -- ...`` runs).
See docs/testing.md.
"""

from __future__ import annotations

__all__: list[str] = []
