"""Namespace lifecycle in the fake cluster, as kube-apiserver and its namespace controller do it.

- A Namespace is held by ``spec.finalizers`` (``kubernetes``) as well as by
  ``metadata.finalizers``: deleting it sets ``deletionTimestamp`` and ``status.phase:
  Terminating`` (`terminating`) and it stays until the `NamespaceController` has emptied it.
- The `NamespaceController` deletes everything in a terminating namespace (Background), in
  the order the real one walks discovery: the built-in API groups first (core, ``apps``,
  ``batch``, ``*.k8s.io``, ...), the custom resources (``kaito.sh``, ``karpenter.sh``, ...)
  ``custom_delay`` virtual seconds later. So, as on a real cluster, a controller may see its
  object's children deleted before its object is, and try to re-create them. It then waits
  while anything remains (objects whose finalizers a controller has yet to remove), with
  the conditions ``NamespaceContentRemaining`` and ``NamespaceFinalizersRemaining`` saying what;
  when the namespace is empty it removes ``kubernetes`` from ``spec.finalizers`` and the
  Namespace is gone. Deletion is therefore not instant while the namespace holds objects.
- `check_create` is the NamespaceLifecycle admission: a client's create in a terminating
  namespace raises `NamespaceTerminating` (a `Forbidden`, HTTP 403) ``unable to create new
  content in namespace X because it is being terminated``. Updates and deletes stay allowed.
  A namespace with no Namespace object is not checked: the in-memory cluster needs none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kaito_backends.errors import NamespaceTerminating, NotFound
from kaito_backends.objects import Manifest, group_of, is_cluster_scoped, resource_of

if TYPE_CHECKING:
    from kaito_backends.fake.store import Store, StoreKey

__all__ = [
    "SPEC_FINALIZER",
    "NamespaceController",
    "built_in",
    "check_create",
    "finalizers",
    "spec_finalizers",
    "terminating",
]

#: The finalizer the namespace controller owns (in ``spec.finalizers``).
SPEC_FINALIZER = "kubernetes"


def spec_finalizers(obj: Manifest) -> list[str]:
    """A Namespace's ``spec.finalizers`` (empty for other kinds)."""
    if obj.get("kind") != "Namespace":
        return []
    spec = obj.get("spec")
    found = spec.get("finalizers") if isinstance(spec, dict) else None
    return [str(f) for f in found] if isinstance(found, list) else []


def finalizers(obj: Manifest) -> list[str]:
    """Everything that holds ``obj`` once it is being deleted (metadata and, for a Namespace,
    spec finalizers)."""
    return [*(obj["metadata"].get("finalizers") or ()), *spec_finalizers(obj)]


def terminating(obj: Manifest) -> Manifest:
    """``obj`` with ``status.phase: Terminating`` when it is a Namespace being deleted."""
    if obj.get("kind") != "Namespace" or not obj["metadata"].get("deletionTimestamp"):
        return obj
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    return {**obj, "status": {**status, "phase": "Terminating"}}


def _namespace(store: Store, name: str) -> Manifest | None:
    return store.find("v1", "Namespace", None, name)


def check_create(store: Store, obj: Manifest) -> None:
    """Raise `NamespaceTerminating` (a `Forbidden`) when ``obj`` would be new content in a
    terminating namespace."""
    kind = str(obj.get("kind") or "")
    if is_cluster_scoped(kind):
        return
    meta = obj.get("metadata") or {}
    name = str(meta.get("namespace") or "")
    namespace = _namespace(store, name) if name else None
    if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
        return
    resource = resource_of(str(obj.get("apiVersion") or ""), kind)
    raise NamespaceTerminating(
        f'{resource} "{meta.get("name") or meta.get("generateName") or ""}" is forbidden: '
        f"unable to create new content in namespace {name} because it is being terminated",
        namespace=name,
    )


def _condition(type_: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True",
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def built_in(obj: Manifest) -> bool:
    """Whether ``obj`` is of a built-in API group (core, ``apps``, ``*.k8s.io``, ...) rather
    than a custom resource (a group with a dot outside ``k8s.io``: ``kaito.sh``, ...)."""
    group = group_of(str(obj.get("apiVersion") or ""))
    return "." not in group or group.endswith(".k8s.io")


class NamespaceController:
    """Empties and finalizes terminating namespaces (see the module docstring).

    ``later(delay, fn)`` runs ``fn`` after ``delay`` virtual seconds and ``now()`` is the
    clock's monotonic time; without them custom resources go with the built-in ones."""

    def __init__(
        self,
        store: Store,
        enqueue: Callable[[StoreKey], None],
        *,
        later: Callable[[float, Callable[[], object]], object] | None = None,
        now: Callable[[], float] | None = None,
        custom_delay: float = 1.0,
    ) -> None:
        self.store = store
        self._enqueue = enqueue
        self._later = later
        self._now = now
        self.custom_delay = custom_delay
        #: names of the namespaces being terminated
        self.terminating: set[str] = set()
        #: namespace -> when its custom resources are deleted (monotonic)
        self._custom_at: dict[str, float] = {}

    def on_change(self, change: str, obj: Manifest) -> None:
        """Queue the namespace of a change that may let its termination progress."""
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            name = meta["name"]
            if change != "DELETED" and meta.get("deletionTimestamp"):
                self.terminating.add(name)
                self._enqueue(self.store.key("v1", "Namespace", None, name))
            else:
                self.terminating.discard(name)
                self._custom_at.pop(name, None)
            return
        if self.terminating and meta.get("namespace") in self.terminating:
            self._enqueue(self.store.key("v1", "Namespace", None, meta["namespace"]))

    def reconcile(self, key: StoreKey) -> None:
        store = self.store
        namespace = store.find_key(key)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        name = key[3]
        custom_now = self._custom_due(key)
        for obj in store.in_namespace(name):
            if not obj["metadata"].get("deletionTimestamp") and (custom_now or built_in(obj)):
                try:
                    store.delete(obj["apiVersion"], obj["kind"], name, obj["metadata"]["name"])
                except NotFound:
                    continue
        remaining = store.in_namespace(name)
        if remaining:
            self._report(namespace, remaining)
            return
        spec = dict(namespace.get("spec") or {})
        spec["finalizers"] = [f for f in spec_finalizers(namespace) if f != SPEC_FINALIZER]
        if not spec["finalizers"]:
            del spec["finalizers"]
        store.replace(namespace, {**namespace, "spec": spec})

    def _custom_due(self, key: StoreKey) -> bool:
        """Whether the namespace's custom resources are deleted on this pass (the first pass
        schedules the one that deletes them)."""
        if self._later is None or self._now is None:
            return True
        name = key[3]
        now = self._now()
        due = self._custom_at.get(name)
        if due is None:
            due = self._custom_at[name] = now + self.custom_delay
            self._later(self.custom_delay, lambda: self._enqueue(key))
        return now >= due

    def _report(self, namespace: Manifest, remaining: list[Manifest]) -> None:
        now = self.store.timestamp()
        counts = Counter(resource_of(o["apiVersion"], o["kind"]) for o in remaining)
        held = Counter(f for o in remaining for f in o["metadata"].get("finalizers") or ())
        previous = {c.get("type"): c for c in (namespace.get("status") or {}).get("conditions", ())}
        conditions = [
            _condition(
                "NamespaceContentRemaining",
                "SomeResourcesRemain",
                "Some resources are remaining: "
                + ", ".join(f"{r} has {n} resource instances" for r, n in sorted(counts.items())),
                now,
            )
        ]
        if held:
            conditions.append(
                _condition(
                    "NamespaceFinalizersRemaining",
                    "SomeFinalizersRemain",
                    "Some content in the namespace has finalizers remaining: "
                    + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(held.items())),
                    now,
                )
            )
        for condition in conditions:
            before = previous.get(condition["type"])
            if before is not None and before.get("message") == condition["message"]:
                condition["lastTransitionTime"] = before.get("lastTransitionTime", now)
        status = {**(namespace.get("status") or {}), "conditions": conditions}
        self.store.replace(namespace, {**namespace, "status": status})
