"""A Kubernetes-compatible API over the fake cluster: ``kaito fake-apiserver``'s engine room.

`FakeApiServer` serves a `kaito_backends.fake.FakeCluster` over plain HTTP on loopback with the
parts of the Kubernetes REST API that kubectl, client-go-style clients and kubernetes-asyncio
use: discovery, get/list/watch/create/update/patch/delete, ``/status`` subresources,
resourceVersion preconditions, label and field selectors, ``Status`` error bodies and
server-side Tables with the upstream printer columns. See ``docs/playground.md``.

Modules: `registry` (what is served), `parsing` (URLs, Accept, bodies), `protobuf` (the
bodies kubectl's typed clients send), `handlers` (verbs), `watch` (streams), `patches`,
`selectors`, `jsonpath`, `columns` / `printers` / `tables` (server-side printing), `crds`,
`discovery`, `status`, `pacing` (virtual time in real time), `kubeconfig`, `server`.
"""

from kaito_backends.apiserver.kubeconfig import kubeconfig, write_kubeconfig
from kaito_backends.apiserver.pacing import PacedClock, Pacer
from kaito_backends.apiserver.server import SEEDED_NAMESPACES, FakeApiServer, RecordedRequest

__all__ = [
    "SEEDED_NAMESPACES",
    "FakeApiServer",
    "PacedClock",
    "Pacer",
    "RecordedRequest",
    "kubeconfig",
    "write_kubeconfig",
]
