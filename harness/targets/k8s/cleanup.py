"""Remove what gameday left in a cluster: one run's objects, or every expired one.

    delete_run(cluster, namespace, run)           the end of every cluster run (in `finally`)
    cleanup_kubernetes(context, namespaces, now)  `gameday cleanup --kubernetes`: expired objects only

Both find objects by label (app.kubernetes.io/managed-by=gameday), so a run that
was killed with -9 is cleaned up by the next `gameday cleanup --kubernetes`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from harness.targets.k8s import access, objects
from harness.targets.k8s.client import Cluster, kube_contexts
from harness.targets.k8s.labels import MANAGED_SELECTOR, expires_at, run_selector


def delete_run(cluster: Cluster, namespace: str, run: str) -> list[str]:
    """Delete every object labelled with this run; 'Kind ns/name' of each removed."""
    return objects.delete_matching(cluster, namespace, run_selector(run))


def delete_expired(cluster: Cluster, namespace: str, now: float) -> list[str]:
    """Delete gameday objects in `namespace` whose expiry (labels.expires_at) is at or before `now`.

    Objects that say no expiry at all are kept: gameday did not make them.
    """

    def keep(meta: dict) -> bool:
        when = expires_at(meta)
        return when is None or when > now

    return objects.delete_matching(cluster, namespace, MANAGED_SELECTOR, keep)


def cleanup_kubernetes(
    context: str, namespaces: Iterable[str], now: float | None = None, config_file: str | None = None
) -> list[str]:
    """`gameday cleanup --kubernetes --context C --namespace N...`: expired objects removed, as 'Kind ns/name'.

    Refuses (SpecError, nothing touched) a context not in $GAMEDAY_ALLOWED_CONTEXTS or a
    namespace not in $GAMEDAY_ALLOWED_NAMESPACES: naming a namespace on the command line
    does not allow it.
    """
    namespaces = list(namespaces)
    access.require(context, namespaces, None, kube_contexts(config_file))
    cluster = Cluster.connect(context, config_file)
    now = time.time() if now is None else now
    return [item for ns in namespaces for item in delete_expired(cluster, ns, now)]
