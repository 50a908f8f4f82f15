"""The blast radius: which kubeconfig contexts and namespaces gameday may touch.

Both lists come only from the machine or CI job that runs gameday, never from a
spec, an experiment or a command line: whoever writes a game day is not
necessarily whoever owns the cluster.

- the context must be listed in $GAMEDAY_ALLOWED_CONTEXTS (comma-separated) and
  exist in the kubeconfig;
- every namespace must be listed in $GAMEDAY_ALLOWED_NAMESPACES (comma-separated).
  A spec's `allowed_namespaces` can only narrow that list: each of them must be
  allowed here too, since the spec loader lets experiments act in any of them
  (harness.spec.k8s_scope). `gameday cleanup --kubernetes --namespace N` removes
  objects only in namespaces this list allows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from harness.errors import SpecError

ALLOWED_CONTEXTS_ENV = "GAMEDAY_ALLOWED_CONTEXTS"
ALLOWED_NAMESPACES_ENV = "GAMEDAY_ALLOWED_NAMESPACES"


def _listed(name: str, env: Mapping[str, str] | None) -> tuple[str, ...]:
    raw = (os.environ if env is None else env).get(name, "")
    return tuple(c.strip() for c in raw.split(",") if c.strip())


def allowed_contexts(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The contexts listed in $GAMEDAY_ALLOWED_CONTEXTS (empty when unset)."""
    return _listed(ALLOWED_CONTEXTS_ENV, env)


def allowed_namespaces(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The namespaces listed in $GAMEDAY_ALLOWED_NAMESPACES (empty when unset)."""
    return _listed(ALLOWED_NAMESPACES_ENV, env)


def problems(
    context: str,
    namespaces: Iterable[str],
    spec_namespaces: Iterable[str] | None,
    kube_contexts: Iterable[str],
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Every reason to refuse touching `namespaces` through `context`; empty when allowed.

    `spec_namespaces` is a spec's `allowed_namespaces` (None when there is no spec):
    each must be allowed by the machine, and `namespaces` must be among them.
    """
    found = list(kube_contexts)
    out = []
    allowed = allowed_contexts(env)
    if context not in allowed:
        listed = ", ".join(allowed) or "nothing"
        out.append(
            f"context {context!r} is not allowed: ${ALLOWED_CONTEXTS_ENV} lists {listed}; "
            f"the cluster's owner adds it with `export {ALLOWED_CONTEXTS_ENV}={context}`"
        )
    if context not in found:
        out.append(
            f"context {context!r} is not in the kubeconfig (it has {', '.join(found) or 'none'}); "
            "check $KUBECONFIG or `kubectl config get-contexts`"
        )
    machine = allowed_namespaces(env)
    spec = None if spec_namespaces is None else list(spec_namespaces)
    for namespace in dict.fromkeys([*namespaces, *(spec or [])]):
        if namespace not in machine:
            listed = ", ".join(machine) or "nothing"
            out.append(
                f"namespace {namespace!r} is not allowed: ${ALLOWED_NAMESPACES_ENV} lists {listed}; "
                f"the cluster's owner adds it with `export {ALLOWED_NAMESPACES_ENV}={namespace}`"
            )
        elif spec is not None and namespace not in spec:
            out.append(f"namespace {namespace!r} is not in allowed_namespaces {sorted(spec)}")
    return out


def require(
    context: str,
    namespaces: Iterable[str],
    spec_namespaces: Iterable[str] | None,
    kube_contexts: Iterable[str],
    env: Mapping[str, str] | None = None,
) -> None:
    """Raise SpecError (exit 2, nothing touched) listing every problem, unless allowed."""
    found = problems(context, namespaces, spec_namespaces, kube_contexts, env)
    if found:
        raise SpecError(found)
