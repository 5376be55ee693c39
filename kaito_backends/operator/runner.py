"""The operator process: servers, the controller, leader election, and graceful shutdown.

`run_operator` is what ``kaito operator`` runs. In order:

1. connect (`kaito_backends.operator.backends.connect`) unless a `Connection` is given;
2. check the cluster: list each registered kind (`kaito_core.kinds.Registry`, default:
   Workspace) within ``connect_timeout`` (unreachable, forbidden, or a CRD missing -> one line
   on stderr, exit 2);
3. listen: health probes, metrics, and the admission webhook of every registered kind (TLS
   with the cert/key files given, reloaded when they change; with ``webhook_cert_secret`` a
   self-signed certificate the operator keeps itself, `kaito_backends.operator.certificates`;
   plain HTTP without either) -> a port that cannot be bound, or a certificate that cannot be
   had, is exit 2;
4. run: without leader election the engine's `Controller` at once; with it a `LeaderElector`
   on the Lease, and only the leader runs the controller (followers serve probes, metrics and
   the webhook; see `kaito_backends.operator.health` for readiness);
5. stop on SIGTERM/SIGINT (the ``stop`` event): readiness fails at once, the controller's workers
   and informers are cancelled, then the Lease is released (another replica takes over at its
   next attempt), the servers close, the clients close; exit 0. Leadership lost, or the
   controller failing, is exit 1 (the pod restarts and campaigns again, as controller-runtime).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from aiohttp import web
from prometheus_client import Gauge, GCCollector, PlatformCollector, ProcessCollector

from kaito_backends.clock import Clock, SystemClock
from kaito_backends.engine.logs import library_logger
from kaito_backends.errors import BackendError, NotFound
from kaito_backends.kinds import KindHooks
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.operator.backends import Connection, ScopedClient, SetupError, connect
from kaito_backends.operator.health import Health, health_routes, metrics_routes
from kaito_backends.operator.leader import LeaderElector, RunOutcome
from kaito_backends.operator.settings import BindAddress, OperatorSettings, webhook_name
from kaito_backends.operator.webhook import (
    AdmissionValidator,
    CertificateReloader,
    WebhookMetrics,
    tls_context,
)
from kaito_core.kinds import Registry
from kaito_core.registry import default_registry

__all__ = ["Operator", "install_signal_handlers", "run_operator"]

_CERT_RELOAD_INTERVAL = 30.0


class Operator:
    """One operator process (see the module docstring). `start`, then `serve`, then `shutdown`.

    ``registry`` and ``hooks`` (default `default_registry` and
    `kaito_backends.kinds.DEFAULT_HOOKS`) are the kinds it reconciles and validates.
    """

    def __init__(
        self,
        settings: OperatorSettings,
        connection: Connection,
        *,
        clock: Clock | None = None,
        log: Any = None,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
    ) -> None:
        from kaito_backends.engine.metrics import EngineMetrics

        #: the registered kinds (``registry`` is the Prometheus registry of the metrics)
        self.kinds = registry if registry is not None else default_registry()
        if settings.keda_scaled_objects:
            self.kinds = with_keda(self.kinds)
        self.hooks = hooks
        self.settings = settings
        self.connection = connection
        self.clock: Clock = clock or SystemClock()
        self.log = log if log is not None else library_logger("kaito.operator")
        self.health = Health()
        self.metrics = EngineMetrics()
        self.registry = self.metrics.registry
        self.webhook_metrics = WebhookMetrics(self.registry)
        self.leader_gauge = Gauge(
            "leader_election_status",
            "1 while this replica leads (holds the election Lease), else 0.",
            ["lease"],
            namespace="kaito",
            registry=self.registry,
        )
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        client = connection.client
        self.engine_client = (
            ScopedClient(client, settings.namespace_scope) if settings.namespace_scope else client
        )
        self.controller: Any = None
        self.elector: LeaderElector | None = None
        self.validator: AdmissionValidator | None = None
        self.reloader: CertificateReloader | None = None
        #: the self-signed certificate's keeper (with ``webhook_cert_secret``)
        self.certificates: Any = None
        #: where each server listens once started: ``health``, ``metrics``, ``webhook``
        self.addresses: dict[str, tuple[str, int]] = {}
        self._runners: list[web.AppRunner] = []
        self._cluster_ok = False
        self._webhook_ok = False
        self._shut = False

    # -- starting --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the cluster, build the controller, start the servers. Raises `SetupError`."""
        await self._check_cluster()
        self.controller = self._build_controller()
        self._register_checks()
        await self._start_servers()

    async def _check_cluster(self) -> None:
        for spec in self.kinds:
            await self._check_kind(spec.api_version, spec.kind, spec.qualified)
        self._cluster_ok = True

    async def _check_kind(self, api_version: str, kind: str, crd: str) -> None:
        scope = self.settings.namespace_scope
        try:
            await asyncio.wait_for(
                self.connection.client.list(api_version, kind, namespace=scope),
                timeout=self.settings.connect_timeout,
            )
        except NotFound as error:
            raise SetupError(
                f"the {kind} CRD ({crd}) is not installed: kaito manifests | kubectl apply -f -"
            ) from error
        except TimeoutError as error:
            raise SetupError(
                f"cannot reach the cluster: no answer within {self.settings.connect_timeout:g}s"
            ) from error
        except (BackendError, OSError) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            raise SetupError(f"cannot reach the cluster: {message}") from error

    def _build_controller(self) -> Any:
        from kaito_backends.engine.controller import Controller

        settings = self.settings
        return Controller(
            self.engine_client,
            self.connection.provisioner,
            clock=self.clock,
            settings=settings.plan_settings(),
            workers=settings.workers,
            metrics=self.metrics,
            registry=self.kinds,
            hooks=self.hooks,
            resync_period=settings.resync_period,
        )

    def _register_checks(self) -> None:
        health = self.health
        health.add_readiness(
            "cluster", lambda: self._cluster_ok or "the API server was not reached yet"
        )
        if self.settings.webhook_bind is not None:
            health.add_readiness(
                "webhook", lambda: self._webhook_ok or "the webhook is not listening"
            )
        if not self.settings.leader_elect:
            health.add_readiness("informers", self._informers_synced)

    def _informers_synced(self) -> str | None:
        controller = self.controller
        if controller is None:
            return "no controller"
        pending = [i.kind for i in controller.informers if not i.synced.is_set()]
        return f"caches not synced: {', '.join(pending)}" if pending else None

    async def _start_servers(self) -> None:
        settings = self.settings
        sites: dict[tuple[str, int], web.Application] = {}
        names: dict[tuple[str, int], list[str]] = {}
        for name, bind in (("health", settings.health_bind), ("metrics", settings.metrics_bind)):
            if bind is None:
                continue
            key = (bind.host, bind.port)
            app = sites.setdefault(key, web.Application())
            app.add_routes(
                health_routes(self.health) if name == "health" else metrics_routes(self.registry)
            )
            names.setdefault(key, []).append(name)
        for (host, port), app in sites.items():
            bound = await self._listen(app, BindAddress(host=host, port=port), ssl_context=None)
            for name in names[(host, port)]:
                self.addresses[name] = bound
        if settings.webhook_bind is not None:
            await self._start_webhook(settings.webhook_bind)

    async def _start_webhook(self, bind: BindAddress) -> None:
        settings = self.settings
        context = None
        cert, key = settings.webhook_cert, settings.webhook_key
        if settings.webhook_cert_secret:
            if cert or key:
                raise SetupError("--webhook-cert-secret excludes --webhook-cert/--webhook-key")
            cert, key = await self._self_signed_certificate()
        if cert or key:
            if not (cert and key):
                raise SetupError("--webhook-cert and --webhook-key go together")
            try:
                context = tls_context(cert, key)
            except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
                raise SetupError(f"cannot load the webhook certificate: {error}") from error
            self.reloader = CertificateReloader(context, cert, key)
        else:
            self.log.warning("webhook.plain_http", reason="no --webhook-cert/--webhook-key given")
        self.validator = AdmissionValidator(
            settings.validation_context(),
            client=self.connection.client,
            metrics=self.webhook_metrics,
            registry=self.kinds,
            hooks=self.hooks,
        )
        self.addresses["webhook"] = await self._listen(
            self.validator.app(), bind, ssl_context=context
        )
        self._webhook_ok = True

    async def _self_signed_certificate(self) -> tuple[str, str]:
        """The files of the certificate the operator keeps itself (created or rotated now)."""
        from kaito_backends.operator.certificates import (
            CertificateError,
            WebhookCertificates,
            hosts_for,
        )

        settings = self.settings
        namespace = settings.pod_namespace
        secret = settings.webhook_cert_secret or ""
        self.certificates = WebhookCertificates(
            self.connection.client,
            namespace=namespace,
            secret=secret,
            hosts=hosts_for(settings.webhook_service, namespace, settings.webhook_cert_hosts),
            configurations=tuple(webhook_name(spec) for spec in self.kinds),
            log=self.log,
        )
        try:
            await asyncio.wait_for(self.certificates.refresh(), timeout=settings.connect_timeout)
        except CertificateError as error:
            raise SetupError(str(error)) from error
        except (BackendError, TimeoutError) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            raise SetupError(
                f"cannot keep the webhook certificate in Secret {namespace}/{secret}: {message}"
            ) from error
        return self.certificates.cert_file, self.certificates.key_file

    async def _listen(
        self, app: web.Application, bind: BindAddress, *, ssl_context: Any
    ) -> tuple[str, int]:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, bind.host or None, bind.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as error:
            raise SetupError(f"cannot listen on {bind}: {error.strerror or error}") from error
        address = runner.addresses[-1]
        return str(address[0]), int(address[1])

    # -- running ---------------------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set (exit 0) or the controller or leadership fails (exit 1)."""
        settings = self.settings
        main: asyncio.Task[Any]
        lease = f"{settings.lease_namespace}/{settings.lease_name}"
        if settings.leader_elect:
            self.leader_gauge.labels(lease=lease).set(0)
            self.elector = LeaderElector(
                self.connection.client,
                name=settings.lease_name,
                namespace=settings.lease_namespace,
                identity=settings.identity,
                lease_duration=settings.lease_duration,
                renew_deadline=settings.renew_deadline,
                retry_period=settings.retry_period,
                clock=self.clock,
                on_started_leading=self._lead,
                on_stopped_leading=lambda: self.leader_gauge.labels(lease=lease).set(0),
                on_new_leader=lambda holder: self.log.info(
                    "leader.observed", lease=lease, holder=holder
                ),
            )
            self.health.add_liveness("leader-election", self.elector.healthy)
            main = asyncio.create_task(self.elector.run(), name="leader-election")
        else:
            main = asyncio.create_task(self.controller.run(), name="controller")
        waiter = asyncio.create_task(stop.wait(), name="stop")
        reload = asyncio.create_task(self._reload_certificates(), name="certificates")
        self.log.info(
            "operator.started",
            backend=settings.backend,
            leader_elect=settings.leader_elect,
            identity=settings.identity,
            addresses=self.addresses,
        )
        try:
            await asyncio.wait({main, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                return await self._stop_gracefully(main)
            return self._ended(main)
        finally:
            for task in (waiter, reload):
                task.cancel()
            await asyncio.gather(waiter, reload, return_exceptions=True)

    def _lead(self) -> Any:
        lease = f"{self.settings.lease_namespace}/{self.settings.lease_name}"
        self.leader_gauge.labels(lease=lease).set(1)
        return self.controller.run()

    async def _stop_gracefully(self, main: asyncio.Task[Any]) -> int:
        self.log.info("operator.stopping")
        self.health.begin_shutdown()
        if self.elector is not None:
            await self.elector.stop()
        else:
            main.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(main), timeout=self.settings.shutdown_timeout)
        except asyncio.CancelledError:
            if not main.cancelled():
                raise
        except TimeoutError:
            self.log.error("operator.shutdown_timeout", seconds=self.settings.shutdown_timeout)
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
            return 1
        except Exception as error:
            self.log.error("operator.failed", error=type(error).__name__, message=str(error))
            return 1
        return 0

    def _ended(self, main: asyncio.Task[Any]) -> int:
        """The main task ended by itself: leadership lost, or the controller failed."""
        if main.cancelled():
            return 1
        error = main.exception()
        if error is not None:
            self.log.error(
                "operator.failed", error=type(error).__name__, message=str(error), exc_info=error
            )
            return 1
        outcome: RunOutcome | None = main.result() if self.elector is not None else None
        self.log.error("operator.ended", reason=outcome or "controller stopped")
        return 1

    async def _reload_certificates(self) -> None:
        reloader = self.reloader
        if reloader is None:
            return
        if self.certificates is not None:
            await self._keep_certificate(reloader)
        while True:
            await asyncio.sleep(_CERT_RELOAD_INTERVAL)
            if reloader.reload_if_changed():
                self.log.info("webhook.certificate_reloaded")

    async def _keep_certificate(self, reloader: CertificateReloader) -> None:
        """Check the self-signed certificate and the caBundle every ``certificate_interval``."""
        from kaito_backends.operator.certificates import CertificateError

        while True:
            await asyncio.sleep(self.settings.certificate_interval)
            try:
                changed = await self.certificates.refresh()
            except (CertificateError, BackendError) as error:
                self.log.warning("webhook.certificate_check_failed", error=str(error))
                continue
            if changed and reloader.reload_if_changed():
                self.log.info("webhook.certificate_reloaded")

    # -- stopping --------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        """Close the servers (idempotent). The caller closes the connection."""
        if self._shut:
            return
        self._shut = True
        self.health.begin_shutdown()
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()


def install_signal_handlers(stop: asyncio.Event, log: Any = None) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop``; returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    logger = log if log is not None else library_logger("kaito.operator")
    installed: list[int] = []

    def handle(signum: int) -> None:
        if stop.is_set():
            logger.warning("operator.already_stopping", signal=signal.Signals(signum).name)
            return
        logger.info("operator.signal", signal=signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, handle, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass

    def remove() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return remove


async def run_operator(
    settings: OperatorSettings,
    *,
    connection: Connection | None = None,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    on_started: Callable[[Operator], None] | None = None,
    stderr: TextIO | None = None,
    signals: bool = False,
    registry: Registry | None = None,
    hooks: Mapping[str, KindHooks] | None = None,
) -> int:
    """Run the operator until stopped; returns the exit code (0, 1, or 2 with one line on stderr).

    ``connection`` defaults to `connect(settings)` (and is closed at the end either way);
    ``stop`` is set by the caller (``signals=True`` installs SIGTERM/SIGINT handlers that set it);
    ``on_started`` sees the running `Operator` (its ``addresses``, ``elector``, ``controller``).
    """
    err = stderr if stderr is not None else sys.stderr
    stop = stop if stop is not None else asyncio.Event()
    started = time.monotonic()
    try:
        connection = connection if connection is not None else await connect(settings)
    except SetupError as error:
        print(f"kaito operator: error: {error}", file=err)
        return 2
    operator = Operator(settings, connection, clock=clock, registry=registry, hooks=hooks)
    remove = install_signal_handlers(stop, operator.log) if signals else (lambda: None)
    try:
        try:
            await operator.start()
        except SetupError as error:
            print(f"kaito operator: error: {error}", file=err)
            return 2
        operator.log.debug("operator.ready", seconds=round(time.monotonic() - started, 3))
        if on_started is not None:
            on_started(operator)
        return await operator.serve(stop)
    finally:
        remove()
        await operator.shutdown()
        await connection.close()
