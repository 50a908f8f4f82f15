"""The blast radius: which kubeconfig contexts and namespaces gameday may touch.

Two locks, both checked before anything runs:
- the namespace must be in the target's `allowed_namespaces` (the spec loader also
  refuses experiments whose `ns`/`namespace` arguments name any other namespace);
- the context must be listed by the person who owns the machine or CI job, in
  $GAMEDAY_ALLOWED_CONTEXTS (comma-separated), and must exist in the kubeconfig.
  A spec cannot allow its own context: the spec's author is not the cluster's owner.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from harness.errors import SpecError

ALLOWED_CONTEXTS_ENV = "GAMEDAY_ALLOWED_CONTEXTS"


def allowed_contexts(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The contexts listed in $GAMEDAY_ALLOWED_CONTEXTS (empty when unset)."""
    raw = (os.environ if env is None else env).get(ALLOWED_CONTEXTS_ENV, "")
    return tuple(c.strip() for c in raw.split(",") if c.strip())


def problems(context: str, namespaces: Iterable[str], allowed_namespaces: Iterable[str],
             kube_contexts: Iterable[str], env: Mapping[str, str] | None = None) -> list[str]:
    """Every reason to refuse touching `namespaces` through `context`; empty when allowed."""
    found, allowed_ns = list(kube_contexts), set(allowed_namespaces)
    out = []
    allowed = allowed_contexts(env)
    if context not in allowed:
        listed = ", ".join(allowed) or "nothing"
        out.append(f"context {context!r} is not allowed: ${ALLOWED_CONTEXTS_ENV} lists {listed}; "
                   f"the cluster's owner adds it with `export {ALLOWED_CONTEXTS_ENV}={context}`")
    if context not in found:
        out.append(f"context {context!r} is not in the kubeconfig (it has {', '.join(found) or 'none'}); "
                   "check $KUBECONFIG or `kubectl config get-contexts`")
    for namespace in dict.fromkeys(namespaces):
        if namespace not in allowed_ns:
            out.append(f"namespace {namespace!r} is not in allowed_namespaces {sorted(allowed_ns)}")
    return out


def require(context: str, namespaces: Iterable[str], allowed_namespaces: Iterable[str],
            kube_contexts: Iterable[str], env: Mapping[str, str] | None = None) -> None:
    """Raise SpecError (exit 2, nothing touched) listing every problem, unless allowed."""
    found = problems(context, namespaces, allowed_namespaces, kube_contexts, env)
    if found:
        raise SpecError(found)
